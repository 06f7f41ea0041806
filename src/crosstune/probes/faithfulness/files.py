"""The file names of a faithfulness probe's folder, spelled once (report and manifest: store)."""

from crosstune.probes.targets import MODELS_CSV

COTS_PARQUET = "cots.parquet"
READINGS_PARQUET = "readings.parquet"
CURVES_CSV = "curves.csv"
FILLER_CSV = "filler.csv"
FAITHFULNESS_CSV = "faithfulness.csv"
UNITS_PARQUET = "units.parquet"
DIFFERENCES_CSV = "differences.csv"

__all__ = ["COTS_PARQUET", "CURVES_CSV", "DIFFERENCES_CSV", "FAITHFULNESS_CSV", "FILLER_CSV",
           "MODELS_CSV", "READINGS_PARQUET", "UNITS_PARQUET"]
