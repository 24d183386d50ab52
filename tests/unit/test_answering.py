"""The answer policy's own logic: follow-ups, the confidence model, refuse / quote."""

import numpy as np
import pytest

from bot.answer import NO_ANSWER
from bot.answering.confidence import MAX_OVER_REFUSED, TARGET_REFUSED, ConfidenceError, ConfidenceModel, fit
from bot.answering.followup import in_context, is_followup
from bot.answering.policy import Components, respond
from bot.retrieval.articles import Passage
from bot.retrieval.search import Hit, SearchResult


@pytest.mark.parametrize("text", [
    "what about for candles", "and for canada?", "what's the minimum amount", "how much is it",
    "is that the same for express", "and klarna?", "for the uk",
])
def test_messages_that_lean_on_the_previous_one_are_follow_ups(text):
    assert is_followup(text, "what is your return policy")


@pytest.mark.parametrize("text, previous", [
    ("how long does a refund to paypal take after you get my return", "what is your return policy"),
    ("what about for candles", None),
    ("", "what is your return policy"),
])
def test_full_questions_and_first_messages_are_not(text, previous):
    assert not is_followup(text, previous)


def test_a_follow_up_is_searched_after_the_previous_question():
    assert in_context("and for canada?", "how much is standard shipping") == "how much is standard shipping and for canada?"


class FakeRetriever:
    """Search that finds the candles unit only when the query names returns: a follow-up alone
    finds nothing it is sure of."""

    reranker = None

    def search(self, query, k=5, focus=None):
        unit = Passage("non-returnable-items#3", "non-returnable-items", "Items that can't be returned",
                       "https://help.example/non-returnable", "Hygiene and consumables",
                       "Opened consumables (candles, coffee, tea) cannot be returned.", "item", "")
        score = 0.8 if "return" in query else 0.2
        return SearchResult(query, [Hit(unit, score, 1, None)], threshold=0.45)


def test_a_follow_up_gets_the_answer_its_context_finds():
    parts = Components(retriever=FakeRetriever())
    answer = respond(parts, "what about for candles", previous="what is your return policy")
    assert answer.kind == "extractive"
    assert answer.text.startswith("Hygiene and consumables:\n- Opened consumables (candles")
    assert respond(parts, "what about for candles").text == NO_ANSWER


def _signals(rerank, cosine):
    return {"rerank": rerank, "margin": rerank / 2, "cosine": cosine, "bm25": 1.0, "coverage": 0.5}


def test_the_confidence_threshold_refuses_the_target_share_of_unanswerable_questions():
    rng = np.random.default_rng(0)
    answer = [_signals(r, c) for r, c in zip(rng.normal(4, 2, 150), rng.normal(0.6, 0.1, 150))]
    refuse = [_signals(r, c) for r, c in zip(rng.normal(-3, 2, 60), rng.normal(0.35, 0.1, 60))]
    model = fit(answer + refuse, [1] * 150 + [0] * 60, answer, {"reranker_hash": "abc", "data": {}})
    assert model.meta["cv"]["chosen"]["unanswerable_refused"] >= TARGET_REFUSED
    assert model.meta["cv"]["chosen"]["answerable_refused"] <= MAX_OVER_REFUSED


def test_a_confidence_model_is_used_only_with_the_reranker_it_was_fitted_for(tmp_path):
    model = ConfidenceModel(np.zeros(5), np.ones(5), np.zeros(6), 0.5,
                            {"reranker_hash": "abc", "fitted_at": "", "data": {}, "curve": [], "cv": {}})
    model.save(tmp_path / "confidence.json")
    assert ConfidenceModel.load(tmp_path / "confidence.json", "abc").threshold == 0.5
    with pytest.raises(ConfidenceError, match="fitted with re-ranker abc"):
        ConfidenceModel.load(tmp_path / "confidence.json", "other")
