"""The queue: what agents see waiting, and claiming a conversation."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import Handoff
from tests.desk.conftest import page_csrf


def test_the_queue_shows_waiting_conversations_oldest_first(browser, add_handoff):
    newer = add_handoff(sender_id="sid-2", sender_hash="b" * 64, reason="fallbacks",
                        summary="bot did not understand twice", queued_ago_s=60)
    older = add_handoff(sender_id="sid-1", reason="asked",
                        summary="track_order; order 100004 verified", queued_ago_s=600)
    add_handoff(sender_id="sid-3", sender_hash="c" * 64, status="closed", summary="old one")
    ana = browser("ana")
    page = ana.get("/").text
    assert "track_order; order 100004 verified" in page and "bot did not understand" in page
    assert page.index(f"Open #{older}") < page.index(f"Open #{newer}")
    assert "10 min" in page and "fallbacks" in page
    data = ana.get("/queue.json").json()
    assert [item["id"] for item in data["open"]] == [older, newer]
    first = data["open"][0]
    assert first["summary"] == "track_order; order 100004 verified"
    assert first["reason"] == "asked" and first["status"] == "queued"
    assert first["waiting_s"] == 600 and first["url"] == f"/conversations/{older}"
    assert [item["summary"] for item in data["ended"]] == ["old one"]


def test_a_claimed_conversation_is_shown_taken_and_cannot_be_claimed_again(
        browser, add_handoff, sessions, clock):
    handoff_id = add_handoff()
    ana, bruno = browser("ana"), browser("bruno")
    response = ana.post(f"/conversations/{handoff_id}/claim",
                        data={"csrf_token": page_csrf(ana)}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/conversations/{handoff_id}"
    assert "You have this conversation now." in ana.get(response.headers["location"]).text

    item = bruno.get("/queue.json").json()["open"][0]
    assert item["status"] == "claimed" and item["claimed_by"] == "Ana" and not item["mine"]
    assert "claimed by Ana" in bruno.get("/").text
    refused = bruno.post(f"/conversations/{handoff_id}/claim",
                         data={"csrf_token": page_csrf(bruno)})
    assert "Ana already has this conversation." in refused.text
    assert "only they or an admin may answer" in refused.text  # and no reply box for Bruno
    assert 'id="reply-form"' not in refused.text
    with sessions() as session:
        handoff = session.get(Handoff, handoff_id)
    assert handoff.status == "claimed" and handoff.claimed_at == clock()
    ana_id = session_agent_id(sessions, "ana")
    assert handoff.claimed_by == ana_id


def test_the_recently_ended_are_listed(browser, add_handoff):
    handoff_id = add_handoff(summary="asked about refunds")
    ana = browser("ana")
    ana.post(f"/conversations/{handoff_id}/close", data={"csrf_token": page_csrf(ana)})
    data = ana.get("/queue.json").json()
    assert data["open"] == []
    assert [(e["id"], e["status"], e["ended_by"]) for e in data["ended"]] == [
        (handoff_id, "closed", "Ana")]
    assert "No one is waiting." in ana.get("/").text


def session_agent_id(sessions, username):
    from bot.storage.models import Agent

    with sessions() as session:
        return session.scalar(select(Agent.id).where(Agent.username == username))
