"""The error of a training loss that is no longer a finite number. Its own module, so that the command line can
name it without importing the Trainer (seconds)."""


class TrainingDiverged(ValueError):
    """The training loss is no longer a finite number."""
