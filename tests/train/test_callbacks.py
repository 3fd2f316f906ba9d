"""Validation scoring through the LLM protocol: requests as `predict` sends them, failures are errors, not AUCs."""

from __future__ import annotations

import pytest

from reasonrec.errors import LLMError
from reasonrec.llm.base import Message, ScoreRequest
from reasonrec.train.callbacks import label_scores, score_requests


@pytest.fixture(scope="module")
def embedded_hf():
    from reasonrec.llm.hf import HFBackend

    return HFBackend("embedded", dtype="fp32", batch_size=4)


def test_score_requests_match_the_prediction_contract():
    (req,) = score_requests([[{"role": "user", "content": "Will they like it?"}]], "Prediction:", (" Yes", " No"))
    assert req == ScoreRequest(choices=(" Yes", " No"), messages=(Message("user", "Will they like it?"),),
                               assistant_prefix="Prediction:")


def test_label_scores_use_the_backend_scorer_and_refuse_failed_rows(embedded_hf):
    model, tok = embedded_hf.model, embedded_hf.tokenizer
    reqs = score_requests([[{"role": "user", "content": f"Do you like soap number {i}?"}] for i in range(3)],
                          "Prediction:", (" Yes", " No"))
    scores = label_scores(model, tok, reqs, batch_size=4)
    expected = [o.probs[" Yes"] for o in embedded_hf.score(reqs)]  # same batch size: the very same computation
    assert scores == pytest.approx(expected, abs=1e-9)
    too_long = score_requests([[{"role": "user", "content": "word " * 9000}]], "Prediction:", (" Yes", " No"))
    with pytest.raises(LLMError, match="validation scoring failed for 1 prompts"):
        label_scores(model, tok, too_long)
    assert model.training is False  # an eval-mode model stays in eval mode
