"""Benchmarks of the trainer; benchmark-only code (such as the authors'-style trainer) lives here, never in the package."""
