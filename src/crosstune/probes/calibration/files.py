"""The file names of a calibration probe's folder, spelled once (report and manifest: store)."""

from crosstune.probes.targets import MODELS_CSV

ANSWERS_PARQUET = "answers.parquet"
METRICS_CSV = "metrics.csv"
DIFFERENCES_CSV = "differences.csv"
RELIABILITY_CSV = "reliability.csv"
SELECTIVE_CSV = "selective.csv"

__all__ = ["ANSWERS_PARQUET", "DIFFERENCES_CSV", "METRICS_CSV", "MODELS_CSV", "RELIABILITY_CSV",
           "SELECTIVE_CSV"]
