"""The log's figures per UTC day (the desk's dashboard and `logs stats`), on a seeded log whose
every number is worked out by hand below: turns across four days, with apologies, hand-overs,
drafts and customers' ratings."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session

from bot.storage.figures import days_up_to, period_window
from bot.storage.log import DraftRecord
from bot.storage.models import Feedback, Handoff, TranscriptLine
from bot.storage.privacy import hash_sender
from tests.unit.storage_helpers import SALT, T0, turn

DAY = 24 * 60  # minutes
OCT31, NOV1, NOV2, NOV3 = date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def draft(status):
    return DraftRecord("run-1", "p" * 64, "...", status)


@pytest.fixture
def seeded(log, engine):
    """Turn ids by name. T0 is 2026-11-01 09:00 UTC."""
    ids = {}
    for name, record in [
        # 31 October: dave, answered twice (contained), a draft sent; rated +1
        ("dave1", turn("dave", "where is order #100200", "track_order", -DAY, latency_ms=5000,
                       draft=draft("sent"))),
        ("dave2", turn("dave", "thanks", "thank_you", -DAY + 1, latency_ms=100)),
        # 1 November: alice answered, then asks for a person (a hand-off by intent)
        ("alice1", turn("alice", "where is my parcel", "track_order", 0, channel="socketio",
                        latency_ms=100, message_id="m-alice1")),
        ("alice2", turn("alice", "a human please", "contact_human_agent", 1, channel="socketio",
                        latency_ms=200)),
        # bob: the draft fell back; the classifier was unsure (refused, a draft rejected); "yes"
        ("bob1", turn("bob", "i want my money back", "get_refund", 2, latency_ms=300,
                      draft=draft("fallback"))),
        ("bob2", turn("bob", "blorp the flux", "nlu_fallback", 3, latency_ms=400, answered=False,
                      draft=draft("rejected"))),
        ("bob3", turn("bob", "yes", "affirm", 4, latency_ms=250, handoff=True)),
        # carol: the action answered but the channel timed out and apologised; a draft timed out
        ("carol1", turn("carol", "where is order #100300", "track_order", 5, latency_ms=600,
                        message_id="m-carol1", draft=draft("timeout"))),
        # 2 November: nothing. 3 November: erin says hello, rated +1 by message id only
        ("erin1", turn("erin", "hello", "greet", 2 * DAY, latency_ms=50, message_id="m-erin1")),
    ]:
        ids[name] = log.record_turn(record)
    with Session(engine) as session, session.begin():
        session.add(TranscriptLine(channel="rest", sender_hash=hash_sender("carol", SALT),
                                   role="channel", kind="timeout", text="Sorry, slow",
                                   message_id="m-carol1"))
        at = T0 + timedelta(hours=1)
        session.add_all([
            Feedback(turn_id=ids["dave1"], rating=1, created_at=at),
            # alice first said "not helpful", then changed her mind: the latest rating counts
            Feedback(message_id="m-alice1", rating=-1, source="customer", created_at=at),
            Feedback(message_id="m-alice1", rating=1, source="customer",
                     created_at=at + timedelta(minutes=1)),
            Feedback(turn_id=ids["carol1"], rating=-1, source="customer", created_at=at),
            Feedback(turn_id=ids["carol1"], rating=1, source="agent", created_at=at),  # not theirs
            Feedback(turn_id=ids["bob1"], rating=None, edited_text="Better reply", created_at=at),
            Feedback(message_id="m-erin1", rating=1, source="customer", created_at=at),
        ])
        session.add(Handoff(channel="rest", sender_id="bob", sender_hash="h" * 64,
                            reason="offer", status="queued", queued_at=T0 + timedelta(minutes=4)))
    return ids


def by_day(period):
    return {row["day"]: row for row in period["days"]}


def test_one_row_per_day_with_the_numbers_worked_out_by_hand(log, seeded):
    period = log.period_report(OCT31, NOV3)
    assert [row["day"] for row in period["days"]] == [
        "2026-10-31", "2026-11-01", "2026-11-02", "2026-11-03"]
    assert (period["since"], period["until"]) == ("2026-10-31T00:00:00.000Z",
                                                  "2026-11-04T00:00:00.000Z")
    days = by_day(period)

    oct31 = days["2026-10-31"]
    assert (oct31["conversations"], oct31["turns"], oct31["containment"]) == (1, 2, 1.0)
    assert (oct31["handoff_rate"], oct31["refusal_rate"]) == (0.0, 0.0)
    assert oct31["latency_ms"] == {"p50": 100, "p95": 5000}  # nearest rank of [100, 5000]
    assert (oct31["ratings"], oct31["thumbs_up_share"]) == (1, 1.0)
    assert oct31["drafts"] == {"sent": 1, "rejected": 0, "timeout": 0, "fallback": 0}

    nov1 = days["2026-11-01"]
    assert (nov1["conversations"], nov1["turns"]) == (3, 6)
    # contained: alice's first answer only (the hand-overs, the fallback draft, the refusal and
    # the apologised answer are not)
    assert nov1["containment"] == pytest.approx(1 / 6, abs=1e-4)
    assert nov1["handoff_rate"] == pytest.approx(2 / 3, abs=1e-4)  # alice and bob
    assert nov1["conversation_containment"] == pytest.approx(1 / 3, abs=1e-4)
    assert nov1["refusal_rate"] == pytest.approx(2 / 6, abs=1e-4)  # bob's blorp, carol's apology
    assert nov1["fallback_rate"] == pytest.approx(1 / 6, abs=1e-4)
    assert nov1["latency_ms"] == {"p50": 250, "p95": 600}  # 100 200 250 300 400 600
    # alice +1 (her latest), carol -1 (the agent's +1 is not a customer's)
    assert (nov1["ratings"], nov1["thumbs_up_share"]) == (2, 0.5)
    assert nov1["drafts"] == {"sent": 0, "rejected": 1, "timeout": 1, "fallback": 1}

    nov2 = days["2026-11-02"]  # an empty day is a row of zeros and blanks, not a gap
    assert (nov2["turns"], nov2["conversations"], nov2["ratings"]) == (0, 0, 0)
    assert nov2["containment"] is None and nov2["thumbs_up_share"] is None
    assert nov2["latency_ms"] == {"p50": None, "p95": None}

    nov3 = days["2026-11-03"]
    assert (nov3["turns"], nov3["containment"], nov3["thumbs_up_share"]) == (1, 1.0, 1.0)


def test_the_totals_and_top_intents_of_the_period(log, seeded):
    period = log.period_report(OCT31, NOV3)
    totals = period["totals"]
    assert (totals["turns"], totals["conversations"]) == (9, 5)
    assert totals["containment"] == pytest.approx(4 / 9, abs=1e-4)
    assert totals["handoff_rate"] == 0.4
    assert totals["refusal_rate"] == pytest.approx(2 / 9, abs=1e-4)
    assert (totals["ratings"], totals["thumbs_up_share"]) == (4, 0.75)
    assert totals["latency_ms"] == {"p50": 250, "p95": 5000}
    assert totals["drafts"] == {"sent": 1, "rejected": 1, "timeout": 1, "fallback": 1}
    assert totals["handoffs"]["count"] == 1 and totals["handoffs"]["by_reason"] == {"offer": 1}

    top = period["top_intents"]
    assert [(row["intent"], row["turns"]) for row in top] == [
        ("track_order", 3), ("affirm", 1), ("contact_human_agent", 1), ("get_refund", 1),
        ("greet", 1), ("nlu_fallback", 1), ("thank_you", 1)]
    assert top[0]["share"] == pytest.approx(3 / 9, abs=1e-4)
    assert top[0]["containment"] == pytest.approx(2 / 3, abs=1e-4)  # carol was apologised to
    assert top[0]["refusal_rate"] == pytest.approx(1 / 3, abs=1e-4)


def test_the_period_and_stats_count_the_same_way(log, seeded):
    """One definition of answered, contained and handed over: the totals of whole days equal
    `stats` over the same times."""
    period = log.period_report(OCT31, NOV3)
    since, until = period_window(OCT31, NOV3)
    stats = log.stats(since, until)
    for key in ("turns", "conversations", "containment", "conversation_containment",
                "handoff_rate", "fallback_rate", "refusal_rate", "latency_ms", "ratings",
                "thumbs_up_share", "drafts"):
        assert period["totals"][key] == stats[key], key
    assert stats["by_channel"]["socketio"]["thumbs_up_share"] == 1.0
    assert stats["by_intent"]["track_order"]["ratings"] == 3


def test_until_cuts_the_last_day_and_the_window_counts_back_from_it(log, seeded):
    cut = log.period_report(NOV1, NOV3, until=datetime(2026, 11, 3, tzinfo=timezone.utc))
    assert cut["until"] == "2026-11-03T00:00:00.000Z" and cut["totals"]["turns"] == 6
    assert by_day(cut)["2026-11-03"]["turns"] == 0

    assert days_up_to(7, datetime(2026, 11, 3, 12, 5, tzinfo=timezone.utc)) == (
        date(2026, 10, 28), NOV3)
    # an end at midnight is not inside its day: the last day is the one before
    assert days_up_to(2, datetime(2026, 11, 3, tzinfo=timezone.utc)) == (OCT31 + timedelta(1),
                                                                        NOV2)


def test_the_unanswered_questions_are_in_the_period(log, seeded, embedder):
    counted = log.period_report(OCT31, NOV3)["unanswered"]
    # bob's "blorp the flux" (refused) and carol's question (apologised for)
    assert (counted["questions"], counted["groups"], counted["error"]) == (2, None, "not grouped")

    grouped = log.period_report(OCT31, NOV3, embed=embedder.encode)["unanswered"]
    assert grouped["group_count"] == 2
    assert sorted(g["representative"] for g in grouped["groups"]) == [
        "blorp the flux", "where is order #100300"]
    assert log.period_report(NOV2, NOV3, embed=embedder.encode)["unanswered"] == {
        "questions": 0, "group_count": 0, "groups": [], "error": None}


# --- the same figures in the terminal: python -m bot logs stats --------------------------------


@pytest.fixture
def asked_about_gift_cards(log, seeded):
    for minutes, text in [(2 * DAY + 5, "do you sell gift cards"),
                          (2 * DAY + 6, "can I buy a gift voucher"),
                          (2 * DAY + 7, "Do you sell gift cards?"),
                          (2 * DAY + 8, "/greet")]:
        log.record_turn(turn("erin", text, "out_of_scope", minutes, answered=False,
                             latency_ms=80))


def test_logs_stats_prints_the_days_the_top_intents_and_the_groups(
        log, asked_about_gift_cards, migrated_url, embedder, monkeypatch, capsys):
    from bot import services
    from tests.unit.test_storage_cli import bot

    monkeypatch.setattr(services, "get_embedder", lambda settings=None: embedder)
    assert bot("stats", "--until", "2026-11-04", "--days", "4", "--db-url", migrated_url) == 0
    out = capsys.readouterr().out
    assert "Per day, 2026-10-31 to 2026-11-03 (UTC days):" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:4] in ("2026", "all ")}
    assert rows["2026-11-01"][1:] == ["3", "6", "16.7%", "66.7%", "33.3%", "50.0%", "2", "250",
                                      "600", "0/1/1/1"]
    assert rows["2026-11-02"][1:] == ["0", "0", "-", "-", "-", "-", "0", "-", "-", "0/0/0/0"]
    # 3 November: erin's hello and her three gift-card questions and "/greet", all refused
    assert rows["2026-11-03"][1:] == ["1", "5", "20.0%", "0.0%", "80.0%", "100.0%", "1", "80",
                                      "80", "0/0/0/0"]
    assert rows["all"][1:4] == ["5", "13", "30.8%"]
    top = out[out.index("Top intents"):out.index("Unanswered questions")].splitlines()
    assert top[1].split() == ["out_of_scope", "4", "30.8%", "contained", "0.0%,", "refused",
                              "100.0%"]
    assert top[2].split()[:3] == ["track_order", "3", "23.1%"]
    # "/greet" is no question; "Do you sell gift cards?" is the same wording as the first
    groups = out[out.index("Unanswered questions"):].splitlines()
    assert groups[0] == ("Unanswered questions, 2026-10-31 to 2026-11-03 (UTC days): "
                         "5 in 3 groups of the same meaning")
    assert groups[1].split()[0] == "3" and "gift" in groups[1]
    assert groups[2].strip() in ("also: can I buy a gift voucher", "also: do you sell gift cards",
                                 "also: Do you sell gift cards?")
    assert sorted(line.strip() for line in groups[3:]) == [
        "1  blorp the flux", "1  where is order #100300"]


def test_logs_stats_json_carries_the_dashboard_figures(log, seeded, migrated_url, capsys):
    import json

    from tests.unit.test_storage_cli import bot

    assert bot("stats", "--since", "2026-11-01", "--until", "2026-11-04", "--days", "4",
               "--no-groups", "--json", "--db-url", migrated_url) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["turns"], data["since"], data["until"]) == (
        7, "2026-11-01T00:00:00.000Z", "2026-11-04T00:00:00.000Z")
    assert data["period"] == log.period_report(OCT31, NOV3)  # what the dashboard draws
    assert data["period"]["unanswered"]["error"] == "not grouped"
