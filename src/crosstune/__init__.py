"""crosstune: measure cognitive biases of language models and attribute them to their origin."""

__version__ = "0.1.0"
