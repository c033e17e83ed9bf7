"""Resolving references to models, checkers and datasets: local folders, Hugging Face hub ids, W&B artifacts."""
