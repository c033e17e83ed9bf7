"""The top layer: the command line and the run pipeline, which put every other package to work."""
