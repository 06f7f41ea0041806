"""The engine: option log-probabilities and generations, batched and cached by content."""

from crosstune.engine.cache import ResultCache
from crosstune.engine.scoring import OptionQuery, OptionScorer

__all__ = ["OptionQuery", "OptionScorer", "ResultCache"]
