"""smolgen: synthetic instruction datasets from a small local model, in the terminal."""

__version__ = "0.1.0"
