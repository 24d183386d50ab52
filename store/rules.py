"""The shop's business rules, as pure functions of an order and the time.

No database, no clock, no I/O: an order is anything with the attributes of ``store.models.Order``
(a model instance, loaded or not, or a stand-in in tests), and ``now`` is a timezone-aware
instant passed in. Every rule quotes the line of knowledge/FACTS.md it follows; when FACTS.md
changes, this module changes with it.

Dates are read in US Eastern Time (FACTS.md: "All times are US Eastern Time (ET)"). A period of
N business days after day X is over at the end of day X + N business days; a customer is told
to act from the next day on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, FrozenSet, Optional, Tuple

from store import codes
from store.clock import BUSINESS_TZ, business_date

ZERO = Decimal("0.00")

# --- calendars --------------------------------------------------------------------------------


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (Mon=0) of a month; n=-1 is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    following = date(year + (month == 12), month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A holiday on a Saturday is kept on the Friday before, on a Sunday on the Monday after."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def thanksgiving(year: int) -> date:
    return _nth_weekday(year, 11, 3, 4)


@lru_cache(maxsize=64)
def us_public_holidays(year: int) -> FrozenSet[date]:
    """The eleven US federal holidays of ``year``, on the days they are observed.

    FACTS.md, header: '"Business day" = Mon–Fri, excluding US public holidays.' New Year's Day
    falling on a Saturday is observed on Dec 31 of the year before; ``is_business_day`` looks at
    both years for that reason.
    """
    return frozenset(
        {
            _observed(date(year, 1, 1)),
            _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
            _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
            _nth_weekday(year, 5, 0, -1),  # Memorial Day
            _observed(date(year, 6, 19)),  # Juneteenth
            _observed(date(year, 7, 4)),
            _nth_weekday(year, 9, 0, 1),  # Labor Day
            _nth_weekday(year, 10, 0, 2),  # Columbus Day
            _observed(date(year, 11, 11)),  # Veterans Day
            thanksgiving(year),
            _observed(date(year, 12, 25)),
        }
    )


@lru_cache(maxsize=64)
def warehouse_holidays(year: int) -> FrozenSet[date]:
    """The days the Columbus warehouse is closed, as observed.

    FACTS.md, Orders: "Warehouse closed: New Year's Day, Memorial Day, Independence Day, Labor
    Day, Thanksgiving Day, Christmas Day." On the other federal holidays it dispatches.
    """
    return frozenset(
        {
            _observed(date(year, 1, 1)),
            _nth_weekday(year, 5, 0, -1),
            _observed(date(year, 7, 4)),
            _nth_weekday(year, 9, 0, 1),
            thanksgiving(year),
            _observed(date(year, 12, 25)),
        }
    )


@lru_cache(maxsize=64)
def _closed_days(year: int, warehouse: bool) -> FrozenSet[date]:
    # Next year's list too: its New Year's Day may be observed on Dec 31 of this one.
    table = warehouse_holidays if warehouse else us_public_holidays
    return table(year) | table(year + 1)


def is_business_day(day: date) -> bool:
    """FACTS.md, header: Mon–Fri, excluding US public holidays."""
    return day.weekday() < 5 and day not in _closed_days(day.year, False)


def is_warehouse_day(day: date) -> bool:
    """A day the warehouse dispatches: Mon–Fri except the warehouse holidays (FACTS.md, Orders)."""
    return day.weekday() < 5 and day not in _closed_days(day.year, True)


def add_business_days(start: date, n: int, *, warehouse: bool = False) -> date:
    """The n-th business day after ``start`` (before it when n is negative); ``start`` itself
    never counts. ``warehouse=True`` counts warehouse days instead (for dispatch)."""
    is_open = is_warehouse_day if warehouse else is_business_day
    step = 1 if n >= 0 else -1
    day, left = start, abs(n)
    while left:
        day += timedelta(days=step)
        if is_open(day):
            left -= 1
    return day


def business_days_between(start: date, end: date) -> int:
    """How many business days lie after ``start`` up to and including ``end`` (0 if none)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_business_day(day)
    return count


# --- dispatch -----------------------------------------------------------------------------------

DISPATCH_CUTOFF = time(14, 0)


def dispatch_date(paid_at: datetime) -> date:
    """The day a paid order leaves the warehouse.

    FACTS.md, Orders: "Dispatch cut-off: paid orders placed by **2 pm ET Mon–Fri** leave the same
    day; later, weekends and warehouse holidays → next business day." Placed at 2:00:00 pm on
    the dot is still "by 2 pm".
    """
    local = paid_at.astimezone(BUSINESS_TZ)
    day = local.date()
    if is_warehouse_day(day) and local.time() <= DISPATCH_CUTOFF:
        return day
    return add_business_days(day, 1, warehouse=True)


# --- status -------------------------------------------------------------------------------------

FREE_CANCEL_WINDOW = timedelta(minutes=60)


def effective_status(order: Any, now: datetime) -> str:
    """The order's status as the customer should see it at ``now``.

    FACTS.md, Orders: "Received (first 60 min) → Processing". The store records the other steps
    as they happen; this one is a matter of time only, so it is read from the clock.
    """
    if order.status == "received" and now - order.placed_at > FREE_CANCEL_WINDOW:
        return "processing"
    return order.status


# --- cancelling ---------------------------------------------------------------------------------

CANCEL_FEE = Decimal("7.50")


@dataclass(frozen=True)
class CancellationQuote:
    allowed: bool
    fee: Decimal
    currency: str
    reason: str  # within_60_minutes, awaiting_bank_transfer, after_60_minutes, dispatched, already_cancelled


def cancellation_quote(order: Any, now: datetime) -> CancellationQuote:
    """Whether the order can be cancelled at ``now``, and what it costs.

    FACTS.md, Orders: "Cancel: **free within 60 minutes** ...; after 60 minutes until dispatch,
    via customer service, fee **$7.50** (CA$7.50 / €7.50 / £7.50), once per order. After
    dispatch: no cancellation → return it. Orders awaiting bank transfer: free cancellation."
    Sixty minutes to the second is still within the free window. Rest-of-world orders are in
    US dollars, so their fee is $7.50.
    """
    currency = order.currency
    status = effective_status(order, now)
    if status == "cancelled":
        return CancellationQuote(False, ZERO, currency, "already_cancelled")
    if status in codes.AFTER_DISPATCH:
        return CancellationQuote(False, ZERO, currency, "dispatched")
    if status == "awaiting_payment" and order.payment_method == "bank_transfer":
        return CancellationQuote(True, ZERO, currency, "awaiting_bank_transfer")
    if now - order.placed_at <= FREE_CANCEL_WINDOW:
        return CancellationQuote(True, ZERO, currency, "within_60_minutes")
    return CancellationQuote(True, CANCEL_FEE, currency, "after_60_minutes")


# --- changing the delivery address --------------------------------------------------------------

REDIRECT_FEE = Decimal("6.00")
REDIRECT_EXTRA_DAYS = (1, 2)


@dataclass(frozen=True)
class AddressChangeQuote:
    allowed: bool
    fee: Decimal
    currency: str
    extra_days: Optional[Tuple[int, int]]  # business days a carrier redirect adds
    reason: str  # before_dispatch, carrier_redirect, or why not


def address_change_quote(order: Any, now: datetime) -> AddressChangeQuote:
    """Whether the delivery address can still change at ``now``, and what it costs.

    FACTS.md, Orders: "Address change: before dispatch free (self-service within 60 min, then via
    support). After dispatch: US standard/express only, carrier redirect via support, **$6.00**,
    adds 1–2 business days; not possible for next-day or non-US orders."
    A parcel already out for delivery, waiting at a pick-up point or delivered cannot be
    redirected any more; "US" is the 48 states + DC (the US_REMOTE region is not).
    """
    status = effective_status(order, now)
    currency = order.currency

    def refused(reason: str) -> AddressChangeQuote:
        return AddressChangeQuote(False, ZERO, currency, None, reason)

    if status == "cancelled":
        return refused("cancelled")
    if status in codes.BEFORE_DISPATCH:
        return AddressChangeQuote(True, ZERO, currency, None, "before_dispatch")
    if status in ("delivered", "out_for_delivery", "ready_for_pickup"):
        return refused(status)
    if order.region != "US":
        return refused("not_us")
    if order.shipping_method == "next_day":
        return refused("next_day")
    if order.shipping_method == "pickup_point":
        return refused("pickup_point")
    return AddressChangeQuote(True, REDIRECT_FEE, "USD", REDIRECT_EXTRA_DAYS, "carrier_redirect")


# --- returns ------------------------------------------------------------------------------------

RETURN_WINDOW = timedelta(days=30)
RETURN_SHIP_WITHIN = timedelta(days=14)


def return_window_ends(order: Any) -> Optional[date]:
    """The last day a delivered order's items can be registered for return (None before delivery).

    FACTS.md, Returns: "Window **30 days from delivery**; items delivered Nov 15–Dec 24
    returnable until Jan 31." Delivered on day D, day D + 30 is the last day.
    """
    if order.delivered_at is None:
        return None
    delivered = business_date(order.delivered_at)
    ends = delivered + RETURN_WINDOW
    if (11, 15) <= (delivered.month, delivered.day) <= (12, 24):
        ends = max(ends, date(delivered.year + 1, 1, 31))
    return ends


@dataclass(frozen=True)
class ReturnEligibility:
    ok: bool
    reason: Optional[str]  # a codes.NOT_RETURNABLE_REASONS key when not ok


def return_eligibility(
    item: Any, order: Any, now: datetime, reason: str = "change_of_mind"
) -> ReturnEligibility:
    """Whether ``item`` of ``order`` can be registered for return at ``now``.

    FACTS.md, Returns: "Not returnable: gift cards, personalised/engraved items, "Final Sale"
    items, opened consumables (candles, coffee, tea, cleaning products), earbuds with broken
    hygiene seal, used kitchenware (unless faulty)", within the window of ``return_window_ends``.
    What the item is decides before when it is: a personalised board is refused as personalised
    even after the window.
    """
    if effective_status(order, now) != "delivered" or order.delivered_at is None:
        return ReturnEligibility(False, "not_delivered")
    if item.category == "gift_card":
        return ReturnEligibility(False, "gift_card")
    if item.personalised:
        return ReturnEligibility(False, "personalised")
    if item.final_sale:
        return ReturnEligibility(False, "final_sale")
    if item.opened and item.category in codes.CONSUMABLE_CATEGORIES:
        return ReturnEligibility(False, "opened_consumable")
    if item.hygiene_seal_broken:
        return ReturnEligibility(False, "hygiene_seal")
    if item.used and item.category in codes.KITCHENWARE_CATEGORIES and reason != "faulty":
        return ReturnEligibility(False, "used_kitchenware")
    if business_date(now) > return_window_ends(order):
        return ReturnEligibility(False, "window_closed")
    return ReturnEligibility(True, None)


@dataclass(frozen=True)
class LabelCost:
    label: bool  # False: no prepaid label, the customer ships at own cost
    amount: Optional[Decimal]  # deducted from the refund; None when there is no label
    currency: str


_CHANGE_OF_MIND_LABEL = {
    "US": Decimal("5.95"),
    "US_REMOTE": Decimal("5.95"),
    "CA": Decimal("12.95"),
    "EU": Decimal("12.95"),
    "UK": Decimal("9.95"),
}


def return_label_cost(region: str, reason: str) -> LabelCost:
    """What the return label costs the customer.

    FACTS.md, Returns: "Return shipping: free for faulty, damaged or wrong items (all regions).
    Change of mind: label cost deducted once per parcel – US $5.95 (free if refunded as store
    credit), Canada CA$12.95, EU €12.95, UK £9.95; rest of world: no label."
    """
    currency = codes.REGION_CURRENCY[region]
    if reason != "change_of_mind":
        return LabelCost(True, ZERO, currency)
    if region not in _CHANGE_OF_MIND_LABEL:
        return LabelCost(False, None, currency)
    return LabelCost(True, _CHANGE_OF_MIND_LABEL[region], currency)


def return_ship_by(registered_at: datetime) -> date:
    """FACTS.md, Returns: "Ship within **14 days** of registering"."""
    return business_date(registered_at) + RETURN_SHIP_WITHIN


# --- refunds ------------------------------------------------------------------------------------

REFUND_BUSINESS_DAYS = {
    "card": (5, 10),
    "apple_pay": (5, 10),
    "google_pay": (5, 10),
    "paypal": (3, 5),
    "klarna": (3, 5),
    "bank_transfer": (7, 10),
}
HOLD_RELEASE_BUSINESS_DAYS = (3, 5)
GIFT_CARD_REFUND_WITHIN = timedelta(hours=24)


@dataclass(frozen=True)
class RefundWindow:
    expected_from: Optional[date]
    expected_to: Optional[date]
    overdue: bool  # the last expected day has passed and the refund is not completed


def refund_expected(refund: Any, now: datetime) -> RefundWindow:
    """When an issued refund should reach the customer; no dates while it is pending.

    FACTS.md, Returns & refunds: "Refund timing after issue: card / Apple Pay / Google Pay
    **5–10 business days**; PayPal **3–5 business days**; Klarna plan updated in **3–5 business
    days**; gift card / store credit **within 24 hours**; bank transfer **7–10 business days**.
    Released card holds (cancelled before dispatch): 3–5 business days."
    """
    if refund.issued_at is None:
        return RefundWindow(None, None, False)
    issued = business_date(refund.issued_at)
    if refund.kind == "hold_release":
        lo, hi = HOLD_RELEASE_BUSINESS_DAYS
        window = (add_business_days(issued, lo), add_business_days(issued, hi))
    elif refund.method == "gift_card":
        window = (issued, business_date(refund.issued_at + GIFT_CARD_REFUND_WITHIN))
    else:
        lo, hi = REFUND_BUSINESS_DAYS[refund.method]
        window = (add_business_days(issued, lo), add_business_days(issued, hi))
    overdue = refund.status != "completed" and business_date(now) > window[1]
    return RefundWindow(window[0], window[1], overdue)


# --- shipping -----------------------------------------------------------------------------------

# FACTS.md, Shipping table: (region, method) -> (business days from dispatch, price, free from).
SHIPPING_TABLE = {
    ("US", "standard"): ((3, 5), Decimal("5.95"), Decimal("50")),
    ("US", "express"): ((2, 2), Decimal("14.95"), None),
    ("US", "next_day"): ((1, 1), Decimal("24.95"), None),
    ("US", "pickup_point"): ((3, 5), Decimal("3.95"), Decimal("35")),
    ("US_REMOTE", "standard"): ((6, 10), Decimal("12.95"), None),
    ("CA", "standard"): ((5, 8), Decimal("12.95"), Decimal("75")),
    ("CA", "express"): ((2, 4), Decimal("29.95"), None),
    ("CA", "pickup_point"): ((5, 8), Decimal("8.95"), Decimal("60")),
    ("EU", "standard"): ((6, 10), Decimal("14.95"), Decimal("90")),
    ("EU", "express"): ((3, 5), Decimal("29.95"), None),
    ("UK", "standard"): ((5, 8), Decimal("11.95"), Decimal("75")),
    ("UK", "express"): ((2, 4), Decimal("24.95"), None),
    ("ROW", "standard"): ((10, 20), Decimal("24.95"), None),
    ("ROW", "express"): ((4, 7), Decimal("49.95"), None),
}
PEAK_EXTRA_BUSINESS_DAYS = 2


def shipping_offered(region: str, method: str) -> bool:
    """FACTS.md, Shipping table: which methods each region has ("–" means none)."""
    return (region, method) in SHIPPING_TABLE


def shipping_price(region: str, method: str, subtotal: Decimal) -> Decimal:
    """The shipping charge in the order's currency. FACTS.md, Shipping: "Thresholds use the
    subtotal after discounts, before tax"; "Free standard from" applies to standard (and to the
    pick-up point where the table gives it its own threshold)."""
    _, price, free_from = SHIPPING_TABLE[(region, method)]
    if free_from is not None and subtotal >= free_from:
        return ZERO
    return price


def is_peak_season(day: date) -> bool:
    """FACTS.md, Shipping: "Black Friday to Christmas allow up to +2 business days"."""
    return thanksgiving(day.year) + timedelta(days=1) <= day <= date(day.year, 12, 25)


@dataclass(frozen=True)
class DeliveryEstimate:
    earliest: date
    latest: date


def delivery_estimate(order: Any, now: datetime) -> Optional[DeliveryEstimate]:
    """The delivery window in business days from dispatch (FACTS.md, Shipping: "times count from
    dispatch, in business days"), with the +2 peak-season days on the late end.

    Before dispatch the window counts from the day the order will leave (``dispatch_date`` of
    when it was paid, or of ``now`` if that has passed); unpaid and cancelled orders have none.
    """
    if order.status == "cancelled" or (order.dispatched_at is None and order.paid_at is None):
        return None
    if order.dispatched_at is not None:
        start = business_date(order.dispatched_at)
    else:
        start = dispatch_date(max(order.paid_at, now))
    (lo, hi), _, _ = SHIPPING_TABLE[(order.region, order.shipping_method)]
    if is_peak_season(start):
        hi += PEAK_EXTRA_BUSINESS_DAYS
    return DeliveryEstimate(add_business_days(start, lo), add_business_days(start, hi))


def promised_estimate(order: Any, now: datetime) -> Optional[DeliveryEstimate]:
    """The window the customer was given at dispatch when it was recorded, else the computed one."""
    if order.estimate_from is not None and order.estimate_to is not None:
        return DeliveryEstimate(order.estimate_from, order.estimate_to)
    return delivery_estimate(order, now)


# --- late orders --------------------------------------------------------------------------------

PROCESSING_LIMIT_BUSINESS_DAYS = 2
LATE_AFTER_ESTIMATE_BUSINESS_DAYS = 3
QUIET_BUSINESS_DAYS = {"domestic": 5, "international": 10}
TRACE_BUSINESS_DAYS = {"domestic": 5, "international": 10}


@dataclass(frozen=True)
class Lateness:
    code: str  # processing_too_long, past_estimate, no_tracking_update
    next_step: str  # contact_us
    since: date  # the last day that was still on time
    carrier_trace_days: Optional[int]  # how long a carrier trace takes, for parcels on the way


def lateness(order: Any, now: datetime) -> Optional[Lateness]:
    """Whether the order is late at ``now`` and what the customer should do.

    FACTS.md, Orders: "Order still Processing after 2 business days → contact us."
    FACTS.md, Shipping: "Late: contact us if not delivered 3 business days after the latest
    estimate or no tracking update for 5 (domestic) / 10 (international) business days. Carrier
    trace up to 5 business days (10 international), then replacement or refund."
    Domestic is the US with its remote states and territories. A parcel that is both past its
    estimate and quiet is reported as past its estimate.
    """
    status = effective_status(order, now)
    today = business_date(now)
    if status in ("received", "processing"):
        deadline = add_business_days(
            business_date(order.paid_at or order.placed_at), PROCESSING_LIMIT_BUSINESS_DAYS
        )
        if today > deadline:
            return Lateness("processing_too_long", "contact_us", deadline, None)
        return None
    if status not in ("dispatched", "out_for_delivery"):
        return None
    scope = "domestic" if order.region in codes.DOMESTIC_REGIONS else "international"
    trace = TRACE_BUSINESS_DAYS[scope]
    estimate = promised_estimate(order, now)
    if estimate is not None:
        limit = add_business_days(estimate.latest, LATE_AFTER_ESTIMATE_BUSINESS_DAYS)
        if today > limit:
            return Lateness("past_estimate", "contact_us", limit, trace)
    last_update = max((event.at for event in order.events), default=order.dispatched_at)
    if last_update is not None:
        quiet_until = add_business_days(business_date(last_update), QUIET_BUSINESS_DAYS[scope])
        if today > quiet_until:
            return Lateness("no_tracking_update", "contact_us", quiet_until, trace)
    return None


# --- payments -----------------------------------------------------------------------------------

KLARNA_REGIONS = ("US", "UK", "EU")
KLARNA_MIN, KLARNA_MAX = Decimal("35"), Decimal("1000")


def payment_method_offered(
    method: str, region: str, shipping_method: str, total: Decimal, has_gift_card_item: bool
) -> bool:
    """Whether checkout offers ``method`` for such an order.

    FACTS.md, Payments: "Klarna: US, UK, EU only; orders US$35–1,000 (€/£35–1,000) ... not for
    gift cards." FACTS.md, Shipping: next-day "not with bank transfer". Larkspur gift cards are
    in US dollars (FACTS.md, Gift cards), so they pay for dollar orders only.
    """
    if method == "klarna":
        return region in KLARNA_REGIONS and KLARNA_MIN <= total <= KLARNA_MAX and not has_gift_card_item
    if method == "bank_transfer":
        return shipping_method != "next_day"
    if method == "gift_card":
        return codes.REGION_CURRENCY[region] == "USD"
    return method in codes.PAYMENT_METHODS
