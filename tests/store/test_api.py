"""The HTTP contract, exercised as the bot uses it: verify, read, change, read back."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import IdempotencyRecord, Order, Refund
from tests.store.conftest import MARCH

NOT_FOUND = {"detail": {"code": "not_found"}}


def key() -> dict:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_health_counts_orders(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["orders"] >= 2000


# --- verify -------------------------------------------------------------------------------------


def test_verify_with_email_or_postcode(client):
    by_email = client.post("/v1/verify", json={"order_number": "100001", "email": "  Ava.Lind@Example.COM "})
    assert by_email.status_code == 200
    body = by_email.json()
    assert body["order_number"] == "100001" and body["token"]
    assert body["expires_at"].startswith("2025-03-18T16:00:00")  # 60 minutes after 11:00 ET
    by_postcode = client.post("/v1/verify", json={"order_number": "#100014", "postcode": "sw1a1aa"})
    assert by_postcode.status_code == 200 and by_postcode.json()["order_number"] == "100014"


def test_every_wrong_detail_gets_the_same_404(client):
    answers = [
        client.post("/v1/verify", json={"order_number": "100001", "email": "someone@example.com"}),
        client.post("/v1/verify", json={"order_number": "100001", "postcode": "10001"}),
        client.post("/v1/verify", json={"order_number": "999999", "email": "ava.lind@example.com"}),
        client.post("/v1/verify", json={"order_number": "12", "postcode": "43215"}),
    ]
    assert [a.status_code for a in answers] == [404] * 4
    assert all(a.json() == NOT_FOUND for a in answers)
    assert len({a.text for a in answers}) == 1


def test_verify_needs_an_email_or_a_postcode(client):
    assert client.post("/v1/verify", json={"order_number": "100001"}).status_code == 422


def test_lockout_after_10_failures_in_15_minutes_and_its_end(client, set_clock):
    for minute in range(10):
        set_clock(MARCH + timedelta(minutes=minute))
        wrong = client.post("/v1/verify", json={"order_number": "100001", "email": "guess@example.com"})
        assert wrong.status_code == 404
    tenth = MARCH + timedelta(minutes=9)
    right = {"order_number": "100001", "email": "ava.lind@example.com"}
    set_clock(tenth + timedelta(minutes=1))
    locked = client.post("/v1/verify", json=right)
    assert locked.status_code == 429
    assert locked.json() == {"detail": {"code": "locked", "retry_after_s": 14 * 60}}
    assert locked.headers["Retry-After"] == str(14 * 60)
    set_clock(tenth + timedelta(minutes=14, seconds=59))
    assert client.post("/v1/verify", json=right).status_code == 429
    set_clock(tenth + timedelta(minutes=15))
    assert client.post("/v1/verify", json=right).status_code == 200
    # Other orders were never affected.
    assert (
        client.post(
            "/v1/verify", json={"order_number": "100002", "email": "ben.okafor@example.com"}
        ).status_code
        == 200
    )


def test_failures_spread_over_more_than_15_minutes_do_not_lock(client, set_clock):
    for n in range(12):
        set_clock(MARCH + timedelta(minutes=2 * n))  # 12 failures over 22 minutes: never 10 in 15
        client.post("/v1/verify", json={"order_number": "100001", "email": "guess@example.com"})
    assert (
        client.post(
            "/v1/verify", json={"order_number": "100001", "email": "ava.lind@example.com"}
        ).status_code
        == 200
    )


def test_unknown_numbers_lock_exactly_like_real_ones(client):
    for _ in range(10):
        client.post("/v1/verify", json={"order_number": "555555", "email": "x@example.com"})
    assert (
        client.post("/v1/verify", json={"order_number": "555555", "email": "x@example.com"}).status_code
        == 429
    )


# --- tokens -------------------------------------------------------------------------------------


def test_a_token_opens_its_own_order_only(client, login):
    headers = login("100001")
    assert client.get("/v1/orders/100001", headers=headers).status_code == 200
    other = client.get("/v1/orders/100002", headers=headers)
    assert other.status_code == 401 and other.json() == {"detail": {"code": "unauthorized"}}
    assert client.post("/v1/orders/100002/cancel", headers={**headers, **key()}).status_code == 401
    assert client.get("/v1/orders/100001").status_code == 401
    assert (
        client.get(
            "/v1/orders/100001", headers={"Authorization": "Bearer 100001.9999999999.forged"}
        ).status_code
        == 401
    )


def test_tokens_expire_after_60_minutes(client, login, set_clock):
    headers = login("100001")
    set_clock(MARCH + timedelta(minutes=59))
    assert client.get("/v1/orders/100001", headers=headers).status_code == 200
    set_clock(MARCH + timedelta(minutes=60))
    assert client.get("/v1/orders/100001", headers=headers).status_code == 401


# --- the order view -----------------------------------------------------------------------------


def test_order_view_of_a_dispatched_order(client, login):
    view = client.get("/v1/orders/100003", headers=login("100003")).json()
    assert view["status"] == "dispatched" and view["carrier"] == "UPS"
    assert view["tracking_url"] == "https://larkspur.example/track?order=100003"
    assert set(view["estimate"]) == {"from", "to"}
    assert view["cancellation"] == {
        "allowed": False,
        "fee": "0.00",
        "currency": "USD",
        "reason": "dispatched",
    }
    assert view["address_change"] == {
        "allowed": True,
        "fee": "6.00",
        "currency": "USD",
        "extra_days": [1, 2],
        "reason": "carrier_redirect",
    }
    assert view["invoice"]["number"].startswith("INV-")
    assert view["last_event"] == {k: view["events"][0][k] for k in ("at", "code", "description", "location")}


def test_order_view_of_late_split_and_returned_orders(client, login):
    late = client.get("/v1/orders/100009", headers=login("100009")).json()
    assert late["lateness"]["next_step"] == "contact_us" and late["lateness"]["carrier_trace_days"] == 5
    assert client.get("/v1/orders/100012", headers=login("100012")).json()["split_group_orders"] == ["100013"]
    returned = client.get("/v1/orders/100011", headers=login("100011")).json()
    assert returned["returns"][0]["status"] == "inspected"
    refund = returned["refunds"][0]
    assert (refund["method"], refund["status"], refund["amount"]) == ("card", "issued", "83.05")
    assert (refund["expected_from"], refund["expected_to"]) == ("2025-03-24", "2025-03-31")


def test_refund_of_the_paypal_order(client, login):
    view = client.get("/v1/orders/100005", headers=login("100005")).json()
    assert view["status"] == "cancelled"
    [refund] = view["refunds"]
    # Issued on Sunday Mar 16: 3-5 business days are Wed Mar 19 to Fri Mar 21.
    assert (refund["method"], refund["kind"], refund["status"]) == ("paypal", "refund", "issued")
    assert (refund["expected_from"], refund["expected_to"]) == ("2025-03-19", "2025-03-21")


# --- cancel -------------------------------------------------------------------------------------


def test_cancel_free_within_the_first_hour(client, login):
    headers = login("100001")
    response = client.post("/v1/orders/100001/cancel", headers={**headers, **key()})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["fee"], body["currency"], body["replayed"]) == (
        "cancelled",
        "0.00",
        "USD",
        False,
    )
    assert body["refund"]["kind"] == "hold_release"  # a card is only authorised before dispatch
    assert client.get("/v1/orders/100001", headers=headers).json()["status"] == "cancelled"


def test_cancel_with_fee_after_the_first_hour(client, login):
    body = client.post("/v1/orders/100002/cancel", headers={**login("100002"), **key()}).json()
    assert (body["fee"], body["currency"]) == ("7.50", "USD")
    assert body["refund"]["amount"] == "47.45"  # the $49.00 skillet + $5.95 shipping - the $7.50 fee
    uk = client.post("/v1/orders/100014/cancel", headers={**login("100014"), **key()}).json()
    assert (uk["fee"], uk["currency"]) == ("7.50", "GBP")


def test_cancel_bank_transfer_order_free_with_nothing_to_refund(client, login):
    body = client.post("/v1/orders/100006/cancel", headers={**login("100006"), **key()}).json()
    assert (body["fee"], body["refund"]) == ("0.00", None)


def test_cancel_refused_once_dispatched(client, login):
    response = client.post("/v1/orders/100003/cancel", headers={**login("100003"), **key()})
    assert response.status_code == 409
    assert response.json() == {"detail": {"code": "not_cancellable", "reason": "dispatched"}}


def test_cancel_needs_an_idempotency_key(client, login):
    response = client.post("/v1/orders/100001/cancel", headers=login("100001"))
    assert response.status_code == 400 and response.json() == {"detail": {"code": "missing_idempotency_key"}}


def test_one_key_three_times_cancels_once(client, login, app):
    headers = {**login("100002"), "Idempotency-Key": "retry-me"}
    answers = [client.post("/v1/orders/100002/cancel", headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["replayed"] for a in answers] == [False, True, True]
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    first = dict(answers[0].json(), replayed=None)
    assert all(dict(a.json(), replayed=None) == first for a in answers)
    with Session(app.state.engine) as session:
        order = session.scalars(select(Order).where(Order.number == "100002")).one()
        assert (
            session.scalar(select(func.count()).select_from(Refund).where(Refund.order_id == order.id)) == 1
        )
    # A new key is a new request: the order is already cancelled.
    again = client.post("/v1/orders/100002/cancel", headers={**login("100002"), **key()})
    assert again.json() == {"detail": {"code": "not_cancellable", "reason": "already_cancelled"}}


def test_concurrent_requests_with_one_key_cancel_once(client, login, app):
    headers = {**login("100016"), "Idempotency-Key": "same-moment"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: client.post("/v1/orders/100016/cancel", headers=headers), range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert sorted(a.json()["replayed"] for a in answers) == [False] + [True] * 5
    with Session(app.state.engine) as session:
        order = session.scalars(select(Order).where(Order.number == "100016")).one()
        assert (
            session.scalar(select(func.count()).select_from(Refund).where(Refund.order_id == order.id)) == 1
        )
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


def test_operations_read_back_a_call(client, login):
    headers = login("100001")
    sent = client.post("/v1/orders/100001/cancel", headers={**headers, "Idempotency-Key": "lost-reply"})
    record = client.get("/v1/operations/lost-reply", headers=headers)
    assert record.status_code == 200
    assert record.json() == dict(sent.json(), replayed=True)
    assert record.headers["Idempotency-Operation"] == "cancel"
    unknown = client.get("/v1/operations/never-sent", headers=headers)
    assert unknown.status_code == 404 and unknown.json() == {"detail": {"code": "unknown_operation"}}
    # Another order's token cannot read it, nor reuse the key.
    other = login("100002")
    assert client.get("/v1/operations/lost-reply", headers=other).json() == unknown.json()
    reused = client.post("/v1/orders/100002/cancel", headers={**other, "Idempotency-Key": "lost-reply"})
    assert reused.status_code == 409 and reused.json()["detail"]["code"] == "idempotency_key_conflict"


def test_operations_read_back_a_refusal_as_a_refusal(client, login):
    headers = login("100003")
    client.post("/v1/orders/100003/cancel", headers={**headers, "Idempotency-Key": "refused-call"})
    record = client.get("/v1/operations/refused-call", headers=headers)
    assert record.status_code == 409
    assert record.json() == {"detail": {"code": "not_cancellable", "reason": "dispatched"}}


def test_refusals_are_replayed_too(client, login):
    headers = {**login("100003"), "Idempotency-Key": "refused-once"}
    first = client.post("/v1/orders/100003/cancel", headers=headers)
    second = client.post("/v1/orders/100003/cancel", headers=headers)
    assert first.status_code == second.status_code == 409 and first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"


# --- address ------------------------------------------------------------------------------------


def test_address_change_before_and_after_dispatch(client, login):
    new = {"address": "77 Willow Lane, Brooklyn, NY 11201"}
    free = client.post("/v1/orders/100002/address", json=new, headers={**login("100002"), **key()}).json()
    assert free == {
        "status": "changed",
        "fee": "0.00",
        "currency": "USD",
        "extra_days": None,
        "replayed": False,
    }
    headers = login("100003")
    before = client.get("/v1/orders/100003", headers=headers).json()["estimate"]
    redirect = client.post("/v1/orders/100003/address", json=new, headers={**headers, **key()}).json()
    assert (redirect["fee"], redirect["extra_days"]) == ("6.00", [1, 2])
    after = client.get("/v1/orders/100003", headers=headers).json()["estimate"]
    assert after["to"] > before["to"]


def test_address_change_refusals(client, login):
    new = {"address": "1 Queen Street West, Toronto, ON M5H 2N2"}
    for number, reason in [("100007", "out_for_delivery"), ("100004", "delivered"), ("100005", "cancelled")]:
        response = client.post(f"/v1/orders/{number}/address", json=new, headers={**login(number), **key()})
        assert response.status_code == 409
        assert response.json() == {"detail": {"code": "address_not_changeable", "reason": reason}}


def test_address_must_be_one_line(client, login):
    response = client.post(
        "/v1/orders/100002/address",
        json={"address": "12 Elm St\nSpringfield"},
        headers={**login("100002"), **key()},
    )
    assert response.status_code == 422


# --- invoice ------------------------------------------------------------------------------------


def test_invoice_only_from_dispatch(client, login):
    none = client.get("/v1/orders/100001/invoice", headers=login("100001"))
    assert none.status_code == 404
    assert none.json() == {"detail": {"code": "no_invoice", "reason": "not_dispatched"}}
    invoice = client.get("/v1/orders/100004/invoice", headers=login("100004")).json()
    assert invoice["number"].startswith("INV-") and len(invoice["number"]) == 10
    assert invoice["download_url"] == "https://larkspur.example/account/orders/100004/invoice.pdf"


# --- returns ------------------------------------------------------------------------------------


def test_return_accepts_returnable_items_and_says_why_not_for_the_rest(client, login):
    headers = login("100004")
    response = client.post("/v1/orders/100004/returns", json={}, headers={**headers, **key()})
    assert response.status_code == 200
    body = response.json()
    assert [i["name"] for i in body["accepted"]] == ["Linen tea towel set"]
    assert {i["name"]: i["reason"] for i in body["refused"]} == {
        "Engraved oak cutting board": "personalised",
        "Fig & cedar candle": "opened_consumable",
    }
    assert (body["label_cost"], body["currency"], body["ship_by"]) == ("5.95", "USD", "2025-04-01")
    assert body["address"] == "Larkspur Returns, 4400 Harbor Logistics Way, Groveport, OH 43125, USA"
    assert body["return_id"].startswith("R-")
    view = client.get("/v1/orders/100004", headers=headers).json()
    assert view["returns"][0]["id"] == body["return_id"] and view["returns"][0]["status"] == "registered"
    # The towels are on their way back now: nothing is left to return.
    again = client.post("/v1/orders/100004/returns", json={}, headers={**headers, **key()})
    assert again.status_code == 409
    refused = {i["name"]: i["reason"] for i in again.json()["detail"]["refused"]}
    assert refused["Linen tea towel set"] == "already_returned"


def test_return_of_named_items_and_of_faulty_ones(client, login):
    headers = login("100015")
    view = client.get("/v1/orders/100015", headers=headers).json()
    skus = {i["name"]: i["sku"] for i in view["items"]}
    body = client.post(
        "/v1/orders/100015/returns",
        json={"skus": list(skus.values()) + ["LK-00000"], "reason": "faulty"},
        headers={**headers, **key()},
    ).json()
    assert [i["name"] for i in body["accepted"]] == ["Ceramic vase, sand"]
    assert {(i["sku"], i["reason"]) for i in body["refused"]} == {
        (skus["Wool throw, moss"], "final_sale"),
        ("LK-00000", "not_in_order"),
    }
    assert (body["label_cost"], body["currency"]) == ("0.00", "EUR")


def test_nothing_returnable_after_the_window(client, login):
    response = client.post("/v1/orders/100008/returns", headers={**login("100008"), **key()})
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail["code"] == "nothing_returnable"
    assert {i["reason"] for i in detail["refused"]} == {"window_closed"}


def test_openapi_describes_the_contract(client):
    document = client.get("/openapi.json").json()
    assert document["info"] == {
        "title": "Larkspur store service",
        "version": "1",
        "description": document["info"]["description"],
    }
    assert set(document["paths"]) == {
        "/health",
        "/v1/verify",
        "/v1/orders/{number}",
        "/v1/orders/{number}/cancel",
        "/v1/orders/{number}/address",
        "/v1/orders/{number}/invoice",
        "/v1/orders/{number}/returns",
        "/v1/operations/{key}",
    }
    assert "OrderView" in document["components"]["schemas"]


def test_idempotency_key_is_documented_as_required(client):
    document = client.get("/openapi.json").json()
    for path in ("/v1/orders/{number}/cancel", "/v1/orders/{number}/address", "/v1/orders/{number}/returns"):
        [header] = [p for p in document["paths"][path]["post"]["parameters"] if p["in"] == "header"]
        assert (header["name"], header["required"]) == ("Idempotency-Key", True)


def test_the_committed_contract_is_current(client):
    """docs/store-openapi.json is what the bot and other shops build against: regenerate it with
    `python -m store openapi --out docs/store-openapi.json` when the contract changes."""
    import json
    from pathlib import Path

    committed = Path(__file__).resolve().parents[2] / "docs" / "store-openapi.json"
    assert json.loads(committed.read_text()) == client.get("/openapi.json").json()
