"""The business rules on fixed clocks, checked against knowledge/FACTS.md line by line."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from store import rules
from tests.store.conftest import ET, MARCH


def make_order(**changes):
    """An order as the rules see it: US, card, standard, processing, placed two hours before MARCH."""
    fields = dict(
        status="processing",
        placed_at=MARCH - timedelta(hours=2),
        paid_at=MARCH - timedelta(hours=2),
        payment_method="card",
        currency="USD",
        region="US",
        shipping_method="standard",
        dispatched_at=None,
        delivered_at=None,
        estimate_from=None,
        estimate_to=None,
        events=[],
    )
    fields.update(changes)
    return SimpleNamespace(**fields)


def make_item(**changes):
    fields = dict(
        category="home",
        personalised=False,
        final_sale=False,
        opened=False,
        hygiene_seal_broken=False,
        used=False,
    )
    fields.update(changes)
    return SimpleNamespace(**fields)


def et(*args) -> datetime:
    return datetime(*args, tzinfo=ET)


# --- calendars ---------------------------------------------------------------------------------


def test_public_holidays_are_observed_on_weekdays():
    assert date(2026, 7, 3) in rules.us_public_holidays(2026)  # July 4th 2026 is a Saturday
    assert not rules.is_business_day(date(2027, 12, 31))  # New Year 2028 is a Saturday
    assert not rules.is_business_day(date(2025, 11, 27))  # Thanksgiving
    assert not rules.is_business_day(date(2026, 1, 19))  # Martin Luther King Jr. Day...
    assert rules.is_warehouse_day(date(2026, 1, 19))  # ...but the warehouse works


def test_add_business_days_skips_weekends_and_holidays():
    assert rules.add_business_days(date(2025, 3, 14), 1) == date(2025, 3, 17)  # Fri -> Mon
    assert rules.add_business_days(date(2025, 11, 26), 1) == date(2025, 11, 28)  # over Thanksgiving
    assert rules.add_business_days(date(2025, 3, 18), -5) == date(2025, 3, 11)
    assert rules.business_days_between(date(2025, 3, 14), date(2025, 3, 18)) == 2


# --- dispatch cut-off ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "paid, leaves",
    [
        (et(2025, 3, 18, 13, 59), date(2025, 3, 18)),  # before 2 pm on a Tuesday: today
        (et(2025, 3, 18, 14, 0), date(2025, 3, 18)),  # 2 pm itself is "by 2 pm"
        (et(2025, 3, 18, 14, 1), date(2025, 3, 19)),  # after: next business day
        (et(2025, 3, 21, 19, 30), date(2025, 3, 24)),  # Friday evening: Monday
        (et(2025, 3, 22, 10, 0), date(2025, 3, 24)),  # Saturday: Monday
        (et(2025, 12, 24, 15, 0), date(2025, 12, 26)),  # Christmas Eve afternoon: past Christmas
        (et(2026, 7, 2, 16, 0), date(2026, 7, 6)),  # Independence Day observed on Friday July 3
        (et(2026, 1, 19, 9, 0), date(2026, 1, 19)),  # MLK Day: the warehouse dispatches
    ],
)
def test_dispatch_cut_off(paid, leaves):
    assert rules.dispatch_date(paid) == leaves


def test_cut_off_reads_eastern_time_whatever_the_offset_given():
    # 18:30 UTC in March is 2:30 pm in New York: after the cut-off.
    assert rules.dispatch_date(datetime.fromisoformat("2025-03-18T18:30:00+00:00")) == date(2025, 3, 19)


# --- cancelling -------------------------------------------------------------------------------


def test_free_cancellation_within_60_minutes_then_fee():
    at_59 = rules.cancellation_quote(
        make_order(status="received", placed_at=MARCH - timedelta(minutes=59)), MARCH
    )
    at_60 = rules.cancellation_quote(
        make_order(status="received", placed_at=MARCH - timedelta(minutes=60)), MARCH
    )
    at_61 = rules.cancellation_quote(
        make_order(status="received", placed_at=MARCH - timedelta(minutes=61)), MARCH
    )
    assert (at_59.allowed, at_59.fee, at_59.reason) == (True, Decimal("0"), "within_60_minutes")
    assert at_60.fee == 0
    assert (at_61.allowed, at_61.fee, at_61.currency, at_61.reason) == (
        True,
        Decimal("7.50"),
        "USD",
        "after_60_minutes",
    )


@pytest.mark.parametrize("currency", ["USD", "CAD", "EUR", "GBP"])
def test_cancellation_fee_is_7_50_in_the_order_currency(currency):
    quote = rules.cancellation_quote(make_order(currency=currency), MARCH)
    assert (quote.fee, quote.currency) == (Decimal("7.50"), currency)


def test_awaiting_bank_transfer_cancels_free_even_days_later():
    order = make_order(
        status="awaiting_payment",
        payment_method="bank_transfer",
        placed_at=MARCH - timedelta(days=3),
        paid_at=None,
    )
    quote = rules.cancellation_quote(order, MARCH)
    assert (quote.allowed, quote.fee, quote.reason) == (True, 0, "awaiting_bank_transfer")


@pytest.mark.parametrize("status", ["dispatched", "out_for_delivery", "delivered", "ready_for_pickup"])
def test_no_cancellation_after_dispatch(status):
    quote = rules.cancellation_quote(make_order(status=status), MARCH)
    assert (quote.allowed, quote.reason) == (False, "dispatched")


def test_no_second_cancellation():
    quote = rules.cancellation_quote(make_order(status="cancelled"), MARCH)
    assert (quote.allowed, quote.reason) == (False, "already_cancelled")


def test_received_turns_processing_after_the_first_hour():
    assert (
        rules.effective_status(make_order(status="received", placed_at=MARCH - timedelta(minutes=30)), MARCH)
        == "received"
    )
    assert (
        rules.effective_status(make_order(status="received", placed_at=MARCH - timedelta(minutes=90)), MARCH)
        == "processing"
    )


# --- address changes -------------------------------------------------------------------------


def test_address_change_free_before_dispatch_in_any_region():
    for region in ("US", "CA", "UK", "EU", "ROW", "US_REMOTE"):
        quote = rules.address_change_quote(make_order(region=region), MARCH)
        assert (quote.allowed, quote.fee, quote.reason) == (True, 0, "before_dispatch")


@pytest.mark.parametrize("method", ["standard", "express"])
def test_us_redirect_after_dispatch_costs_6_and_1_to_2_days(method):
    quote = rules.address_change_quote(make_order(status="dispatched", shipping_method=method), MARCH)
    assert (quote.allowed, quote.fee, quote.currency, quote.extra_days) == (
        True,
        Decimal("6.00"),
        "USD",
        (1, 2),
    )


@pytest.mark.parametrize(
    "changes, reason",
    [
        (dict(region="CA", currency="CAD"), "not_us"),
        (dict(region="UK", currency="GBP"), "not_us"),
        (dict(region="EU", currency="EUR"), "not_us"),
        (dict(region="ROW"), "not_us"),
        (dict(region="US_REMOTE"), "not_us"),
        (dict(shipping_method="next_day"), "next_day"),
        (dict(shipping_method="pickup_point"), "pickup_point"),
    ],
)
def test_no_redirect_after_dispatch(changes, reason):
    quote = rules.address_change_quote(make_order(status="dispatched", **changes), MARCH)
    assert (quote.allowed, quote.reason) == (False, reason)


@pytest.mark.parametrize("status", ["out_for_delivery", "delivered", "ready_for_pickup", "cancelled"])
def test_too_late_or_cancelled_for_an_address_change(status):
    quote = rules.address_change_quote(make_order(status=status), MARCH)
    assert (quote.allowed, quote.reason) == (False, status)


# --- returns ------------------------------------------------------------------------------------


def delivered(day: date, **changes):
    return make_order(
        status="delivered",
        dispatched_at=et(day.year, day.month, day.day, 8) - timedelta(days=3),
        delivered_at=et(day.year, day.month, day.day, 15),
        **changes,
    )


def test_return_window_is_30_days_from_delivery():
    order = delivered(date(2025, 3, 1))
    assert rules.return_window_ends(order) == date(2025, 3, 31)
    assert rules.return_eligibility(make_item(), order, et(2025, 3, 31, 23, 0)).ok  # day 30
    day_31 = rules.return_eligibility(make_item(), order, et(2025, 4, 1, 9, 0))
    assert (day_31.ok, day_31.reason) == (False, "window_closed")


@pytest.mark.parametrize(
    "delivered_on, last_day",
    [
        (date(2025, 11, 14), date(2025, 12, 14)),  # the day before the holiday period
        (date(2025, 11, 15), date(2026, 1, 31)),
        (date(2025, 12, 1), date(2026, 1, 31)),
        (date(2025, 12, 24), date(2026, 1, 31)),
        (date(2025, 12, 26), date(2026, 1, 25)),  # after it: 30 days again
    ],
)
def test_holiday_deliveries_return_until_january_31(delivered_on, last_day):
    assert rules.return_window_ends(delivered(delivered_on)) == last_day


def test_delivered_december_1_still_returnable_january_20():
    order = delivered(date(2025, 12, 1))
    assert rules.return_eligibility(make_item(), order, et(2026, 1, 20, 12)).ok
    assert rules.return_eligibility(make_item(), order, et(2026, 2, 1, 12)).reason == "window_closed"


@pytest.mark.parametrize(
    "item, reason",
    [
        (make_item(category="gift_card"), "gift_card"),
        (make_item(category="kitchenware", personalised=True), "personalised"),
        (make_item(final_sale=True), "final_sale"),
        (make_item(category="candles", opened=True), "opened_consumable"),
        (make_item(category="coffee_tea", opened=True), "opened_consumable"),
        (make_item(category="cleaning", opened=True), "opened_consumable"),
        (make_item(category="electronics_accessories", hygiene_seal_broken=True), "hygiene_seal"),
        (make_item(category="kitchenware", used=True), "used_kitchenware"),
        (make_item(category="cookware", used=True), "used_kitchenware"),
    ],
)
def test_items_that_cannot_be_returned(item, reason):
    verdict = rules.return_eligibility(item, delivered(date(2025, 3, 10)), MARCH)
    assert (verdict.ok, verdict.reason) == (False, reason)


def test_unopened_consumables_and_faulty_used_kitchenware_can_go_back():
    order = delivered(date(2025, 3, 10))
    assert rules.return_eligibility(make_item(category="candles"), order, MARCH).ok
    assert rules.return_eligibility(
        make_item(category="kitchenware", used=True), order, MARCH, reason="faulty"
    ).ok


def test_nothing_returns_before_delivery():
    verdict = rules.return_eligibility(make_item(), make_order(status="dispatched"), MARCH)
    assert (verdict.ok, verdict.reason) == (False, "not_delivered")


@pytest.mark.parametrize(
    "region, amount, currency",
    [("US", "5.95", "USD"), ("CA", "12.95", "CAD"), ("EU", "12.95", "EUR"), ("UK", "9.95", "GBP")],
)
def test_change_of_mind_label_costs(region, amount, currency):
    label = rules.return_label_cost(region, "change_of_mind")
    assert (label.label, label.amount, label.currency) == (True, Decimal(amount), currency)


def test_rest_of_world_has_no_label_and_faults_ship_free_everywhere():
    assert rules.return_label_cost("ROW", "change_of_mind") == rules.LabelCost(False, None, "USD")
    for reason in ("faulty", "damaged", "wrong_item"):
        for region in ("US", "CA", "EU", "UK", "ROW"):
            assert rules.return_label_cost(region, reason).amount == 0


def test_returns_ship_within_14_days_of_registering():
    assert rules.return_ship_by(MARCH) == date(2025, 4, 1)


# --- refunds ------------------------------------------------------------------------------------


def refund(method: str, kind: str = "refund", status: str = "issued", issued_at=MARCH):
    return SimpleNamespace(method=method, kind=kind, status=status, issued_at=issued_at)


@pytest.mark.parametrize(
    "method, first, last",
    [
        ("card", date(2025, 3, 25), date(2025, 4, 1)),  # 5-10 business days from Tue Mar 18
        ("apple_pay", date(2025, 3, 25), date(2025, 4, 1)),
        ("google_pay", date(2025, 3, 25), date(2025, 4, 1)),
        ("paypal", date(2025, 3, 21), date(2025, 3, 25)),  # 3-5
        ("klarna", date(2025, 3, 21), date(2025, 3, 25)),  # 3-5
        ("bank_transfer", date(2025, 3, 27), date(2025, 4, 1)),  # 7-10
        ("gift_card", date(2025, 3, 18), date(2025, 3, 19)),  # within 24 hours
    ],
)
def test_refund_windows_per_method(method, first, last):
    window = rules.refund_expected(refund(method), MARCH)
    assert (window.expected_from, window.expected_to, window.overdue) == (first, last, False)


def test_released_card_hold_takes_3_to_5_days():
    window = rules.refund_expected(refund("card", kind="hold_release"), MARCH)
    assert (window.expected_from, window.expected_to) == (date(2025, 3, 21), date(2025, 3, 25))


def test_pending_refund_has_no_dates_and_late_ones_are_overdue():
    assert rules.refund_expected(
        refund("card", status="pending", issued_at=None), MARCH
    ) == rules.RefundWindow(None, None, False)
    late = rules.refund_expected(refund("paypal", issued_at=MARCH - timedelta(days=14)), MARCH)
    assert late.overdue
    done = rules.refund_expected(
        refund("paypal", status="completed", issued_at=MARCH - timedelta(days=14)), MARCH
    )
    assert not done.overdue


# --- delivery and lateness ----------------------------------------------------------------------


def test_delivery_estimate_counts_business_days_from_dispatch():
    order = make_order(status="dispatched", dispatched_at=et(2025, 3, 18, 17, 30))
    estimate = rules.delivery_estimate(order, MARCH)
    assert (estimate.earliest, estimate.latest) == (date(2025, 3, 21), date(2025, 3, 25))
    ca = rules.delivery_estimate(
        make_order(status="dispatched", region="CA", dispatched_at=et(2025, 3, 18, 17)), MARCH
    )
    assert (ca.earliest, ca.latest) == (date(2025, 3, 25), date(2025, 3, 28))


def test_peak_season_adds_two_days_to_the_late_end():
    order = make_order(status="dispatched", dispatched_at=et(2025, 12, 1, 17))
    estimate = rules.delivery_estimate(order, et(2025, 12, 2, 9))
    assert (estimate.earliest, estimate.latest) == (date(2025, 12, 4), date(2025, 12, 10))


def test_estimate_before_dispatch_follows_the_cut_off():
    order = make_order(placed_at=et(2025, 3, 18, 15), paid_at=et(2025, 3, 18, 15))  # after 2 pm: leaves Wed
    estimate = rules.delivery_estimate(order, et(2025, 3, 18, 16))
    assert estimate.earliest == date(2025, 3, 24)
    assert rules.delivery_estimate(make_order(status="awaiting_payment", paid_at=None), MARCH) is None


def test_processing_too_long_after_2_business_days():
    on_time = make_order(placed_at=et(2025, 3, 14, 10), paid_at=et(2025, 3, 14, 10))  # Fri: limit Tue
    assert rules.lateness(on_time, MARCH) is None
    stuck = make_order(placed_at=et(2025, 3, 13, 10), paid_at=et(2025, 3, 13, 10))  # Thu: limit Mon
    late = rules.lateness(stuck, MARCH)
    assert (late.code, late.next_step, late.since) == ("processing_too_long", "contact_us", date(2025, 3, 17))


def test_late_3_business_days_after_the_latest_estimate():
    order = make_order(
        status="dispatched",
        dispatched_at=et(2025, 3, 3, 17),  # estimate Mar 6-10
        events=[SimpleNamespace(at=et(2025, 3, 12, 9))],
    )
    assert rules.lateness(order, et(2025, 3, 13, 12)) is None  # Mar 13 = estimate + 3
    late = rules.lateness(order, et(2025, 3, 14, 12))
    assert (late.code, late.next_step, late.carrier_trace_days) == ("past_estimate", "contact_us", 5)


@pytest.mark.parametrize("region, quiet_days, trace", [("US", 5, 5), ("EU", 10, 10)])
def test_late_when_tracking_is_quiet(region, quiet_days, trace):
    dispatched = et(2025, 3, 3, 17)
    order = make_order(
        status="dispatched",
        region=region,
        dispatched_at=dispatched,
        estimate_from=date(2025, 3, 10),
        estimate_to=date(2025, 4, 30),
        events=[SimpleNamespace(at=dispatched)],
    )
    still_fine = datetime.combine(
        rules.add_business_days(date(2025, 3, 3), quiet_days), datetime.min.time(), ET
    )
    assert rules.lateness(order, still_fine.replace(hour=12)) is None
    quiet = datetime.combine(
        rules.add_business_days(date(2025, 3, 3), quiet_days + 1), datetime.min.time(), ET
    )
    late = rules.lateness(order, quiet.replace(hour=12))
    assert (late.code, late.carrier_trace_days) == ("no_tracking_update", trace)


def test_delivered_and_cancelled_orders_are_never_late():
    assert rules.lateness(make_order(status="delivered", placed_at=MARCH - timedelta(days=60)), MARCH) is None
    assert rules.lateness(make_order(status="cancelled", placed_at=MARCH - timedelta(days=60)), MARCH) is None


# --- prices and payments ------------------------------------------------------------------------


def test_shipping_prices_and_free_thresholds():
    assert rules.shipping_price("US", "standard", Decimal("49.99")) == Decimal("5.95")
    assert rules.shipping_price("US", "standard", Decimal("50")) == 0
    assert rules.shipping_price("US", "pickup_point", Decimal("35")) == 0
    assert rules.shipping_price("US", "express", Decimal("500")) == Decimal("14.95")
    assert rules.shipping_price("US_REMOTE", "standard", Decimal("900")) == Decimal("12.95")
    assert rules.shipping_price("EU", "standard", Decimal("90")) == 0
    assert not rules.shipping_offered("UK", "pickup_point")


def test_payment_methods_offered():
    assert not rules.payment_method_offered("klarna", "CA", "standard", Decimal("100"), False)
    assert not rules.payment_method_offered("klarna", "US", "standard", Decimal("20"), False)
    assert not rules.payment_method_offered("klarna", "US", "standard", Decimal("100"), True)
    assert not rules.payment_method_offered("bank_transfer", "US", "next_day", Decimal("100"), False)
    assert not rules.payment_method_offered("gift_card", "EU", "standard", Decimal("100"), False)
    assert rules.payment_method_offered("card", "ROW", "express", Decimal("100"), False)
