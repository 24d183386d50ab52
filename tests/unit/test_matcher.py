"""The approved-answer matcher as trained by `make matcher` (models/matcher): it reloads with its
manifest, its threshold is the one its dev set chooses, and with it approved answers reach
rewordings of their question and not unrelated questions or look-alikes with another answer.
The figures on the held-out set are in reports/corrections.md (make eval-corrections)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.answering.approved import ApprovedAnswers
from bot.answering.matching_sets import DEV, choose, load, probe_scores, rates
from bot.settings import get_settings
from bot.storage import migrate
from bot.storage.db import make_engine, session_factory
from bot.storage.models import ApprovedAnswer

APPROVED = [
    ("Is the gift wrap fee refunded when a gift-wrapped item is returned?",
     "No: the $4.95 gift wrap fee is not refunded when the item is returned.", "gift-orders"),
    ("How long does a refund to PayPal take?", "PayPal refunds take 3-5 business days.",
     "refund-timelines"),
]


@pytest.fixture(scope="module")
def matcher():
    from bot.answering.matcher import Matcher

    settings = get_settings()
    if not (settings.matcher_dir / "manifest.json").exists():
        pytest.fail(f"no matcher at {settings.matcher_dir}: `make matcher` trains it (make test "
                    "does first)")
    return Matcher(settings.matcher_dir)


@pytest.fixture()
def approved(tmp_path, matcher):
    from sqlalchemy.orm import Session

    url = f"sqlite:///{tmp_path / 'log.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        for question, answer, article in APPROVED:
            session.add(ApprovedAnswer(question=question, answer=answer, article_id=article,
                                       kb_missing=False, status="approved"))
    return ApprovedAnswers(session_factory(engine), matcher.encode, threshold=matcher.threshold)


def test_the_manifest_threshold_is_the_one_the_dev_set_chooses(matcher):
    paraphrases, near = probe_scores(load(DEV), matcher.encode)
    assert matcher.threshold == choose(paraphrases, near)
    assert rates(paraphrases, near, matcher.threshold)["false"] == 0.0
    assert matcher.manifest["data"]["groups"] >= 200  # data/corrections/paraphrases_train_*.yml


@pytest.mark.parametrize("question, expected", [
    ("is the gift wrap fee refunded if I return the item?", "gift-orders"),
    ("will the gift wrapping charge be refunded when I return the item?", "gift-orders"),
    ("how long do paypal refunds take", "refund-timelines"),
    # unrelated, or a look-alike whose answer differs: the articles answer instead
    ("how do I track a parcel", None),
    ("how much is gift wrap", None),
    ("How long does a refund to a credit card take?", None),
    ("How long does a refund to PayPal take for an order from Canada?", None),
])
def test_rewordings_get_the_approved_answer_and_nothing_else_does(approved, question, expected):
    answer = approved.answer(question)
    if expected is None:
        assert answer is None
    else:
        assert answer is not None and answer.sources[0]["article_id"] == expected


def test_without_the_matcher_the_bot_falls_back_to_the_knowledge_bases_minilm(tmp_path):
    from bot import services
    from bot.answering.approved import BASE_THRESHOLD

    settings = dataclasses.replace(get_settings(), approved_matcher="off",
                                   log_url=f"sqlite:///{tmp_path / 'log.db'}")
    saved, services._approved = services._approved, None
    try:
        found = services.get_approved_answers(settings)
        assert found.threshold == BASE_THRESHOLD
    finally:
        services._approved = saved
