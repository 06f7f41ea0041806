"""Value preferences (Big Two: agency vs communion) of reward models and LMs, and implicit reward."""

from crosstune.probes.values.probe import VALUES, ValuesConfig, values_request

__all__ = ["VALUES", "ValuesConfig", "values_request"]
