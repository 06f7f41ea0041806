"""Loading models: Hugging Face ids and folders, GGUF files, PEFT adapters, embedded defaults."""

from crosstune.models.handle import ModelHandle
from crosstune.models.loader import load_model

__all__ = ["ModelHandle", "load_model"]
