"""What the checkers and the loss made of each training example: weights.csv, weights_report.md and its plots."""
