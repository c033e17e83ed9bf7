"""Reading labelled text data from files, the hub or W&B artifacts."""
