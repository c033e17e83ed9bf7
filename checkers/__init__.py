"""Quality and diversity checkers: finding or building them, and scoring the training data with them."""
