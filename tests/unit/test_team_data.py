"""The team's corrections as drafter training data, and the data-hash rule for runs: the bot
drafts with a run only when it was trained on today's data, or the operator says so."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy.orm import Session

from bot.generation.choice import choose
from bot.generation.dataset import TRAIN_DIR, data_hash
from bot.generation.team_data import (
    current_data_hash,
    heldout_questions,
    normalise,
    team_examples,
)
from bot.settings import ROOT, Settings
from bot.storage import migrate
from bot.storage.db import make_engine, session_factory
from bot.storage.models import AgentMessage, ApprovedAnswer, Handoff

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
ARTICLES = {"start-a-return", "gift-cards", "payment-methods"}


@pytest.fixture()
def log(tmp_path):
    url = f"sqlite:///{tmp_path / 'conversations.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    return url, engine, session_factory(engine)


def correction(engine, question, answer, article_id=None, status="approved"):
    with Session(engine) as session, session.begin():
        row = ApprovedAnswer(question=question, answer=answer, article_id=article_id,
                             kb_missing=article_id is None, status=status, created_at=NOW)
        session.add(row)
        session.flush()
        return row.id


def agent_reply(engine, question, sent, used, sources):
    with Session(engine) as session, session.begin():
        handoff = Handoff(channel="socketio", sender_id="s1", sender_hash="h" * 64, reason="asked")
        session.add(handoff)
        session.flush()
        session.add(AgentMessage(handoff_id=handoff.id, question=question, sent_text=sent,
                                 suggested_text="the desk's suggestion", suggested_sources=sources,
                                 used=used, created_at=NOW))


def test_corrections_and_edited_suggestions_become_examples_with_their_provenance(log):
    _, engine, sessions = log
    kept = correction(engine, "Can I get my refund on a gift card?",
                      "Yes, refunds can go to a gift card within 24 hours.", "gift-cards")
    correction(engine, "do you sell garden sheds", "We don't sell garden sheds.")  # no article
    correction(engine, "is paypal ok", "Yes.", "payment-methods", status="withdrawn")
    agent_reply(engine, "can i pay with paypal in canada", "Yes, PayPal works in Canada.",
                "edited", [{"article_id": "payment-methods", "score": 0.8}])
    agent_reply(engine, "hello?", "Hi, I'm Sam.", "own", [])  # the agent's own words: not taught
    agent_reply(engine, "my parcel is wet", "Sorry! Send a photo.", "edited", [])  # no article

    examples = team_examples(sessions, known_articles=ARTICLES)

    assert [e["id"] for e in examples] == [f"correction-{kept}", f"correction-{kept + 1}",
                                          "agent-edit-1"]
    first, missing, edit = examples
    assert first["article"] == "gift-cards"
    assert first["answer"] == "Yes, refunds can go to a gift card within 24 hours. [gift-cards]"
    assert first["provenance"]["source"] == "correction"
    # "the help centre has no article on this": from any passages, the honest reply is a refusal
    assert missing["article"] is None and missing["answer"] is None
    assert missing["provenance"]["kb_missing"] is True
    assert edit["article"] == "payment-methods"
    assert edit["answer"] == "Yes, PayPal works in Canada. [payment-methods]"
    assert edit["provenance"] == {"source": "agent_edit", "agent_message_id": 1, "agent_id": None,
                                  "sent_at": "2026-11-20T12:00:00+00:00"}


def test_a_question_from_a_heldout_set_is_never_trained_on(log):
    _, engine, sessions = log
    heldout = heldout_questions(ROOT)
    # a question of the answer-quality set (tests/answers/questions.yml), with other capitals
    assert normalise("Can I pay cash on delivery?") in heldout
    correction(engine, "Can I pay CASH on delivery", "No, we do not accept cash.", "payment-methods")
    correction(engine, "can i pay with cash at the door", "No, we do not accept cash.",
               "payment-methods")
    examples = team_examples(sessions, heldout, ARTICLES)
    assert [e["question"] for e in examples] == ["can i pay with cash at the door"]


def test_the_data_hash_is_the_files_alone_until_the_team_adds_something(log):
    _, engine, sessions = log
    files = data_hash(ROOT / TRAIN_DIR)
    assert current_data_hash(ROOT / TRAIN_DIR, team_examples(sessions)) == files
    first = correction(engine, "is gift wrap free", "Yes, gift wrap is free.", "gift-cards")
    one = current_data_hash(ROOT / TRAIN_DIR, team_examples(sessions))
    assert one != files
    correction(engine, "do you ship to iceland", "Not yet.")
    assert current_data_hash(ROOT / TRAIN_DIR, team_examples(sessions)) not in (files, one)
    with Session(engine) as session, session.begin():
        session.get(ApprovedAnswer, first).status = "withdrawn"
        session.query(ApprovedAnswer).filter(ApprovedAnswer.id != first).delete()
    assert current_data_hash(ROOT / TRAIN_DIR, team_examples(sessions)) == files


def fake_run(models_dir, name, hash_):
    run = models_dir / "generator" / "runs" / name
    (run / "merged").mkdir(parents=True)
    (run / "merged" / "config.json").write_text("{}")
    (run / "manifest.json").write_text(json.dumps({"status": "good", "data_hash": hash_}))
    return run


def settings_for(tmp_path, url, **overrides):
    return dataclasses.replace(Settings(), models_dir=tmp_path / "models", log_url=url,
                               **overrides)


def test_a_run_trained_before_a_correction_is_not_drafted_with_unless_the_operator_says_so(
        tmp_path, log):
    url, engine, _ = log
    run = fake_run(tmp_path / "models", "20261101-000000-cpu", data_hash(ROOT / TRAIN_DIR))
    auto = settings_for(tmp_path, url, generator="auto")

    current = choose(auto)
    assert current.source == str(run) and not current.behind
    assert "trained on today's data" in current.note

    correction(engine, "is gift wrap free", "Yes, gift wrap is free.", "gift-cards")
    behind = choose(auto)
    assert behind.source is None and behind.behind
    assert "1 corrections" in behind.note and "python -m bot generator finetune" in behind.note
    assert "BOT_GENERATOR_ALLOW_STALE=1" in behind.note

    allowed = choose(dataclasses.replace(auto, generator_allow_stale=True))
    assert allowed.source == str(run) and allowed.behind

    # a run named by the operator is theirs to choose; "off" drafts with nothing
    named = choose(dataclasses.replace(auto, generator=str(run)))
    assert named.source == str(run)
    assert choose(dataclasses.replace(auto, generator="off")).source is None


def test_a_run_trained_with_the_correction_is_current_again(tmp_path, log):
    url, engine, sessions = log
    correction(engine, "is gift wrap free", "Yes, gift wrap is free.", "gift-cards")
    hash_ = current_data_hash(ROOT / TRAIN_DIR, team_examples(sessions, heldout_questions(ROOT)))
    fake_run(tmp_path / "models", "20261101-000000-cpu", data_hash(ROOT / TRAIN_DIR))
    newer = fake_run(tmp_path / "models", "20261120-000000-cpu", hash_)
    choice = choose(settings_for(tmp_path, url, generator="auto"))
    assert choice.source == str(newer) and not choice.behind
