"""The approved-answers store: what it matches, when it sees new and withdrawn answers, and what
it says. Matching quality with the real MiniLM is measured in reports/corrections.md (make
eval-corrections) and through the real servers in tests/integration/test_corrections.py; here a
bag-of-words embedding keeps the logic's tests fast and exact."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.orm import Session

from bot.answering.approved import TEAM_SOURCE, ApprovedAnswers
from bot.storage import migrate
from bot.storage.db import make_engine, session_factory
from bot.storage.models import ApprovedAnswer

VOCABULARY = ["gift", "wrap", "free", "paypal", "refund", "card", "iceland", "ship"]


def bag_of_words(texts):
    rows = []
    for text in texts:
        words = text.lower().replace("?", " ").split()
        vector = np.array([float(w in words) for w in VOCABULARY], dtype=np.float32) + 1e-3
        rows.append(vector / np.linalg.norm(vector))
    return np.stack(rows)


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture()
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    clock = Clock()
    approved = ApprovedAnswers(session_factory(engine), bag_of_words, threshold=0.9,
                               articles={"gift-wrap": ("Gift wrapping", "https://help/gift-wrap")},
                               refresh_s=2.0, clock=clock)
    return approved, engine, clock


def add(engine, question, answer, article_id=None, status="approved") -> int:
    with Session(engine) as session, session.begin():
        row = ApprovedAnswer(question=question, answer=answer, article_id=article_id,
                             kb_missing=article_id is None, status=status)
        session.add(row)
        session.flush()
        return row.id


def test_a_close_question_gets_the_answer_with_its_source_and_a_far_one_nothing(store):
    approved, engine, _ = store
    add(engine, "is gift wrap free", "Yes, gift wrap is free.", "gift-wrap")
    answer = approved.answer("Is the gift wrap free?")
    assert answer.kind == "approved" and not answer.offers_handoff
    assert answer.text == "Yes, gift wrap is free.\nMore in our help centre: Gift wrapping - https://help/gift-wrap"
    assert answer.sources[0]["passage_id"].startswith("approved#")
    assert approved.answer("refund to paypal") is None


def test_an_answer_without_an_article_says_it_is_the_teams(store):
    approved, engine, _ = store
    add(engine, "do you ship to iceland", "Yes, in 7 to 12 business days.")
    assert approved.answer("ship to iceland").text.endswith(TEAM_SOURCE)


def test_new_and_withdrawn_answers_are_seen_at_the_next_look(store):
    approved, engine, clock = store
    assert approved.answer("is gift wrap free") is None
    row = add(engine, "is gift wrap free", "Yes, gift wrap is free.")
    assert approved.answer("is gift wrap free") is None  # looked less than refresh_s ago
    clock.now += 2.0
    assert approved.answer("is gift wrap free") is not None
    with Session(engine) as session, session.begin():
        session.get(ApprovedAnswer, row).status = "withdrawn"
    clock.now += 2.0
    assert approved.answer("is gift wrap free") is None


def test_the_best_of_several_wins_and_a_broken_database_answers_nothing(store, tmp_path):
    approved, engine, clock = store
    add(engine, "refund to paypal", "PayPal: 3-5 business days.")
    add(engine, "refund to card", "Cards: 5-10 business days.")
    assert approved.answer("paypal refund").text.startswith("PayPal")
    broken = ApprovedAnswers(session_factory(make_engine(f"sqlite:///{tmp_path / 'none.db'}")),
                             bag_of_words, threshold=0.9)
    assert broken.answer("paypal refund") is None  # no table: the articles answer instead


@pytest.mark.parametrize("question, approved, same", [
    ("how long does a PayPal refund take", "How long does a refund to PayPal take?", True),
    ("how long does a refund to my visa take", "How long does a refund to PayPal take?", False),
    ("can I pay with a gift card", "Can I pay with a card?", False),
    ("shipping to Canada cost", "How much is shipping to the US?", False),
    ("can I return candles", "Can I return candles?", True),
    ("can I exchange candles", "Can I return candles?", False),
    ("is shipping free over $50", "Is shipping free on orders over $100?", False),
])
def test_the_contrast_check_tells_look_alikes_from_the_same_question(question, approved, same):
    from bot.answering.contrast import same_terms

    assert same_terms(question, approved) is same
