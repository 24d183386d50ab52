"""The demo data: big enough, covering every status and region, following the rules, the same
every time, and with the documented demo orders in the state the README gives them."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from store import carriers, codes, rules, seed
from store.clock import business_date
from store.models import Order
from tests.store.conftest import DECEMBER, DEMO_EMAIL, ET, MARCH

# A Saturday after a holiday Friday, and a Labor Day Monday before the warehouse opens.
SATURDAY = datetime(2025, 7, 5, 9, 0, tzinfo=ET)
LABOR_DAY = datetime(2025, 9, 1, 7, 30, tzinfo=ET)
CLOCKS = [MARCH, DECEMBER, SATURDAY, LABOR_DAY]

POSTCODES = {
    "US": r"\d{5}",
    "PR": r"009\d\d",
    "CA": r"[A-Z]\d[A-Z] \d[A-Z]\d",
    "GB": r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}",
    "DE": r"\d{5}",
    "FR": r"\d{5}",
    "NL": r"\d{4} [A-Z]{2}",
    "IT": r"\d{5}",
    "ES": r"\d{5}",
    "IE": r"D\d\d [A-Z0-9]{4}",
    "AT": r"\d{4}",
    "SE": r"\d{3} \d{2}",
    "PT": r"\d{4}-\d{3}",
    "FI": r"\d{5}",
    "AU": r"\d{4}",
    "JP": r"\d{3}-\d{4}",
    "NZ": r"\d{4}",
    "SG": r"\d{6}",
    "CH": r"\d{4}",
    "NO": r"\d{4}",
    "MX": r"\d{5}",
}


@pytest.fixture(scope="module", params=CLOCKS, ids=lambda c: c.strftime("%a-%Y-%m-%d"))
def dataset(request):
    return request.param, seed.build_dataset(request.param, 7)


def test_size_and_coverage(dataset):
    _, data = dataset
    assert len(data.customers) >= 300
    assert len(data.orders) >= 2000
    assert set(Counter(o["status"] for o in data.orders)) == set(codes.ORDER_STATUSES)
    assert set(Counter(o["region"] for o in data.orders)) == set(codes.REGIONS)
    assert {o["payment_method"] for o in data.orders} == set(codes.PAYMENT_METHODS)
    assert {r["status"] for r in data.returns} == set(codes.RETURN_STATUSES)
    assert {r["status"] for r in data.refunds} == set(codes.REFUND_STATUSES)
    assert {r["method"] for r in data.refunds} == set(codes.PAYMENT_METHODS)
    assert any(o["split_group"] and o["number"] != "100012" for o in data.orders)


def test_numbers_customers_and_addresses(dataset):
    _, data = dataset
    numbers = [o["number"] for o in data.orders]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert re.fullmatch(r"[1-9]\d{5}", number)
        assert int(number) not in seed.DEMO_NUMBERS or number in DEMO_EMAIL
    assert len({c["email"] for c in data.customers}) == len(data.customers)
    for customer in data.customers:
        assert re.fullmatch(r"[a-z.]+\d*@example\.(com|net|org)", customer["email"]), customer["email"]
        assert re.fullmatch(POSTCODES[customer["country"]], customer["postcode"]), customer
    invoices = [i["number"] for i in data.invoices]
    assert len(set(invoices)) == len(invoices) and all(re.fullmatch(r"INV-\d{6}", n) for n in invoices)
    assert all(re.fullmatch(r"R-\d{6}", r["id"]) for r in data.returns)


def test_orders_follow_the_rules(dataset):
    now, data = dataset
    today = business_date(now)
    events = defaultdict(list)
    for event in data.tracking_events:
        events[event["order_id"]].append(event)
    invoiced = {i["order_id"] for i in data.invoices}
    for o in data.orders:
        view = SimpleNamespace(**o, events=[SimpleNamespace(**e) for e in events[o["id"]]])
        status = o["status"]
        assert o["currency"] == codes.REGION_CURRENCY[o["region"]]
        assert rules.shipping_offered(o["region"], o["shipping_method"])
        assert o["placed_at"] <= now and all(e["at"] <= now for e in events[o["id"]])
        assert (o["id"] in invoiced) == (status in codes.AFTER_DISPATCH)
        if status == "received":
            assert now - o["placed_at"] < timedelta(minutes=60) and o["paid_at"] is not None
        if status == "awaiting_payment":
            assert o["payment_method"] == "bank_transfer" and o["paid_at"] is None
            assert now - o["placed_at"] < timedelta(days=7)
        if status == "processing":
            assert now - o["placed_at"] > timedelta(minutes=60) and o["dispatched_at"] is None
        if status in codes.AFTER_DISPATCH:
            assert o["carrier"] == carriers.carrier_for(o["region"], o["po_box"])
            assert o["dispatched_at"] <= now and o["estimate_to"] is not None
            assert rules.is_warehouse_day(business_date(o["dispatched_at"]))
            if not o["split_group"]:
                assert rules.dispatch_date(o["paid_at"]) == business_date(o["dispatched_at"]), o["number"]
        if status == "delivered":
            assert o["delivered_at"] <= now and business_date(o["delivered_at"]) <= today
            assert {e["code"] for e in events[o["id"]]} & {"delivered", "collected"}
        if status in ("dispatched", "out_for_delivery") and o["number"] not in ("100009",):
            late = rules.lateness(view, now)
            # Only the few parcels the seed loses on purpose are late.
            assert late is None or late.code in ("past_estimate", "no_tracking_update")
        if status == "ready_for_pickup":
            assert o["shipping_method"] == "pickup_point"
        if status == "cancelled":
            assert o["cancelled_at"] <= now and o["dispatched_at"] is None
            if o["cancelled_by"] == "store":
                assert o["cancel_fee"] == 0


def test_returns_hold_only_items_returnable_when_registered(dataset):
    _, data = dataset
    orders = {o["id"]: o for o in data.orders}
    items = {i["id"]: i for i in data.order_items}
    returns = {r["id"]: r for r in data.returns}
    for line in data.return_items:
        ret = returns[line["return_id"]]
        order = SimpleNamespace(**orders[ret["order_id"]])
        verdict = rules.return_eligibility(
            SimpleNamespace(**items[line["order_item_id"]]), order, ret["registered_at"], ret["reason"]
        )
        assert verdict.ok, (order.number, verdict)


def test_the_same_clock_and_seed_give_the_same_orders():
    assert seed.build_dataset(MARCH, 7) == seed.build_dataset(MARCH, 7)
    assert seed.build_dataset(MARCH, 8).orders != seed.build_dataset(MARCH, 7).orders


def test_seeding_twice_writes_identical_orders(seeded_db, tmp_path):
    from store import db
    from tests.store.conftest import make_settings

    engine = db.make_engine(make_settings(tmp_path))
    seed.seed_database(engine, MARCH, 7)

    def orders(url: str):
        with Session(create_engine(url)) as session:
            rows = session.scalars(select(Order).order_by(Order.number)).all()
            return [
                (o.number, o.status, o.placed_at, o.total, o.tracking_number, [i.sku for i in o.items])
                for o in rows
            ]

    assert orders(f"sqlite:///{tmp_path / 'store.db'}") == orders(f"sqlite:///{seeded_db}")
    engine.dispose()


def _demo(data, number):
    order = next(o for o in data.orders if o["number"] == number)
    customer = next(c for c in data.customers if c["id"] == order["customer_id"])
    items = [i for i in data.order_items if i["order_id"] == order["id"]]
    return SimpleNamespace(**order), customer, items


def test_demo_orders_are_what_the_readme_says(dataset):
    now, data = dataset
    for number, email in DEMO_EMAIL.items():
        order, customer, _ = _demo(data, number)
        assert customer["email"] == email
        assert order.region == "US" or number in ("100007", "100014", "100015")

    o, c, _ = _demo(data, "100001")
    assert o.status == "received" and o.placed_at == now - timedelta(minutes=20) and c["postcode"] == "43215"
    assert rules.cancellation_quote(o, now).fee == 0
    o, c, _ = _demo(data, "100002")
    assert o.status == "processing" and c["postcode"] == "10001"
    assert rules.cancellation_quote(o, now).fee == rules.CANCEL_FEE
    assert rules.address_change_quote(o, now).reason == "before_dispatch"
    o, c, _ = _demo(data, "100003")
    assert (o.status, o.carrier, o.shipping_method, c["postcode"]) == (
        "dispatched",
        "UPS",
        "standard",
        "94103",
    )
    assert business_date(o.dispatched_at) == rules.add_business_days(business_date(now), -1, warehouse=True)
    assert rules.cancellation_quote(o, now).reason == "dispatched"
    assert rules.address_change_quote(o, now).fee == rules.REDIRECT_FEE
    o, c, items = _demo(data, "100004")
    assert o.status == "delivered" and business_date(o.delivered_at) == business_date(now) - timedelta(days=5)
    verdicts = {i["name"]: rules.return_eligibility(SimpleNamespace(**i), o, now).reason for i in items}
    assert verdicts == {
        "Linen tea towel set": None,
        "Engraved oak cutting board": "personalised",
        "Fig & cedar candle": "opened_consumable",
    }
    o, _, _ = _demo(data, "100005")
    assert (o.status, o.cancelled_by, o.payment_method) == ("cancelled", "customer", "paypal")
    refund = next(r for r in data.refunds if r["order_id"] == o.id)
    assert (refund["status"], refund["method"], refund["issued_at"]) == (
        "issued",
        "paypal",
        now - timedelta(days=2),
    )
    o, _, _ = _demo(data, "100006")
    assert (o.status, o.payment_method) == ("awaiting_payment", "bank_transfer")
    assert rules.cancellation_quote(o, now).reason == "awaiting_bank_transfer"
    o, c, _ = _demo(data, "100007")
    assert (o.status, o.currency, o.carrier, c["postcode"]) == (
        "out_for_delivery",
        "CAD",
        "Canada Post",
        "M5V 2T6",
    )
    o, _, items = _demo(data, "100008")
    assert o.status == "delivered"
    assert all(
        rules.return_eligibility(SimpleNamespace(**i), o, now).reason == "window_closed" for i in items
    )
    o, _, _ = _demo(data, "100009")
    events = [SimpleNamespace(**e) for e in data.tracking_events if e["order_id"] == o.id]
    o.events = events
    assert o.status == "dispatched" and o.delivered_at is None
    assert business_date(o.dispatched_at) == rules.add_business_days(business_date(now), -12)
    assert business_date(max(e.at for e in events)) == rules.add_business_days(business_date(now), -6)
    assert rules.lateness(o, now).next_step == "contact_us"
    o, _, _ = _demo(data, "100010")
    assert (o.status, o.shipping_method) == ("ready_for_pickup", "pickup_point")
    o, _, _ = _demo(data, "100011")
    ret = next(r for r in data.returns if r["order_id"] == o.id)
    refund = next(r for r in data.refunds if r["order_id"] == o.id)
    assert (o.status, ret["status"], refund["status"], refund["method"]) == (
        "delivered",
        "inspected",
        "issued",
        "card",
    )
    assert refund["issued_at"] == now - timedelta(days=1)
    first, _, _ = _demo(data, "100012")
    second, _, _ = _demo(data, "100013")
    assert first.split_group == second.split_group and (first.status, second.status) == (
        "delivered",
        "dispatched",
    )
    o, c, _ = _demo(data, "100014")
    assert (o.status, o.currency, c["postcode"]) == ("processing", "GBP", "SW1A 1AA")
    assert (
        rules.cancellation_quote(o, now).fee == rules.CANCEL_FEE
        and rules.cancellation_quote(o, now).currency == "GBP"
    )
    o, _, items = _demo(data, "100015")
    assert (o.status, o.currency, o.payment_method) == ("delivered", "EUR", "klarna")
    assert sorted(i["final_sale"] for i in items) == [False, True]
    o, _, _ = _demo(data, "100016")
    assert o.status == "processing"


def test_readme_demo_table_matches_the_data():
    """The README is the manual: its table of demo orders must describe the seeded orders."""
    readme = (Path(__file__).resolve().parents[2] / "store" / "README.md").read_text()
    data = seed.build_dataset(MARCH, 7)
    rows = re.findall(r"^\| (1000\d\d) \| `([^`]+)` \| `([^`]+)` \| `([a-z_]+)` \|", readme, flags=re.M)
    assert {r[0] for r in rows} == set(DEMO_EMAIL)
    for number, email, postcode, status in rows:
        order, customer, _ = _demo(data, number)
        assert (customer["email"], customer["postcode"], order.status) == (email, postcode, status), number
