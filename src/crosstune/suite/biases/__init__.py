"""Bias templates, one module per family; each module registers its biases on import."""
