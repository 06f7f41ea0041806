"""Slow: the embedded real models (converted from their PyPI GGUF files on first use)."""

import numpy as np
import pandas as pd
import pytest

from crosstune.engine import OptionQuery, OptionScorer
from crosstune.evaluate import EvalConfig, evaluate
from crosstune.models import load_model
from crosstune.suite.prompts import ANSWER_CUE, label_continuations, user_prompt
from crosstune.suite.registry import select_biases
from tests.conftest import USER_HOME
from tests.reference import naive_logprobs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["smollm2-135m-instruct", "gemma-3-270m"])
def real_handle(request):
    # Reuse the user's converted models instead of converting again in a temporary home.
    mp = pytest.MonkeyPatch()
    if USER_HOME:
        mp.setenv("CROSSTUNE_HOME", USER_HOME)
    else:
        mp.delenv("CROSSTUNE_HOME", raising=False)
    handle = load_model(request.param, device="cpu")
    mp.undo()
    return handle


def test_real_model_option_probabilities_equal_naive_scoring(real_handle):
    queries = []
    for bias in select_biases(["anchoring", "status_quo_bias", "decoy_effect"]):
        for pair in bias.generate(2, 0):
            for side in ("control", "treatment"):
                queries.append(OptionQuery(real_handle.render(user_prompt(pair, side), ANSWER_CUE),
                                           label_continuations(pair, side)))
    got = OptionScorer(real_handle).logprobs(queries)
    for query, scores in zip(queries, got, strict=True):
        naive = naive_logprobs(real_handle, query.context, query.labels)
        # option probabilities within 1e-5; log-probs within fp32 noise of the logits (~20 in
        # magnitude, so ~1e-6 relative), which different matmul shapes do not reproduce bit-wise
        np.testing.assert_allclose(np.exp(scores), np.exp(naive), atol=1e-5)
        np.testing.assert_allclose(scores, naive, atol=5e-5)


def test_real_model_scores_are_reproducible(real_handle):
    config = EvalConfig(biases=["framing_effect", "certainty_effect"], pairs=3, seed=5)
    first, again = evaluate(real_handle, config), evaluate(real_handle, config)
    pd.testing.assert_frame_equal(first.summary, again.summary)
    assert (first.summary.valid_mass > 0.5).all()
