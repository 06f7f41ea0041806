"""Models behind an OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, Ollama, APIs)."""

from crosstune.served.settings import ServedSettings, served_id, served_settings

__all__ = ["ServedSettings", "served_id", "served_settings"]
