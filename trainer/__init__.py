"""Training a text classifier with a weighted loss on top of the Hugging Face Trainer."""
