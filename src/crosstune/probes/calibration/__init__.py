"""The calibration probe: option probabilities against accuracy on known-answer questions."""

from crosstune.probes.calibration.probe import CALIBRATION, CalibrationConfig, score_questions

__all__ = ["CALIBRATION", "CalibrationConfig", "score_questions"]
