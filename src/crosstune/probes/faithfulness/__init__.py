"""The faithfulness probe: does the answer depend on the chain of thought (Lanham et al. 2023)?"""

from crosstune.probes.faithfulness.probe import FAITHFULNESS, FaithfulnessConfig, measure

__all__ = ["FAITHFULNESS", "FaithfulnessConfig", "measure"]
