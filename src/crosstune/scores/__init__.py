"""From answers to numbers: per-pair metrics and per-bias summaries with uncertainty."""
