"""The file names of a values run folder, spelled once (manifest and report: store)."""

from crosstune.store import REPORT

SCORES_FILE = "scores.parquet"
WORDS_FILE = "lexicon_words.csv"
DROPPED_FILE = "dropped_words.csv"
MEDIANS_FILE = "median_ranks.csv"
MODEL_MEANS_FILE = "model_means.csv"
MEAN_OF_MEDIANS_FILE = "mean_of_medians.csv"
MIXED_FILE = "mixed_model.csv"
CELLS_FILE = "cell_tests.csv"
ANOVA_FILE = "lm_anova.csv"
IMPLICIT_FILE = "implicit_reward.parquet"
IMPLICIT_TOP_FILE = "implicit_top_tokens.csv"
IMPLICIT_CATEGORIES_FILE = "implicit_categories.csv"
IMPLICIT_WORDS_FILE = "implicit_words.csv"
REPORT_FILE = REPORT
