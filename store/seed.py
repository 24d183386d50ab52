"""The demo shop's data: a few hundred customers and a few thousand orders, the same every time.

Every date is relative to the clock the seed is built against (``now``), so an order "placed 20
minutes ago" can always be cancelled for free, whatever day the demo runs. The random orders are
drawn from ``random.Random(seed)``; the documented demo orders (numbers 100001-100016, the range
100000-100099 is theirs alone) are written out by hand in ``_demo_orders``.

Orders follow the rules in ``store.rules``: a paid order leaves on ``rules.dispatch_date``,
parcels arrive within the shipping table's window (a few arrive late), a received order is under
60 minutes old, invoices exist only from dispatch on, returns hold only returnable items.
``build_dataset`` is pure (rows as dicts); ``seed_database`` writes them.
"""

from __future__ import annotations

import logging
import random
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import Integer, func, insert, select, text
from sqlalchemy.engine import Engine

from store import codes, rules
from store.carriers import carrier_for, make_tracking_number
from store.clock import BUSINESS_TZ, business_date
from store.demo_data import (
    CATALOG,
    EARBUDS,
    FIRST_NAMES,
    HUBS,
    LAST_NAMES,
    PICKUP_POINTS,
    PLACES,
    STREET_KINDS,
    STREETS,
    WAREHOUSE,
    fill_postcode,
    price_in,
)

log = logging.getLogger(__name__)

RANDOM_CUSTOMERS = 320
RANDOM_CHECKOUTS = 2000
DEMO_NUMBERS = range(100000, 100100)  # reserved for the documented demo orders
# The warehouse's daily dispatch run: parcels leave between these times, ET. A day's run is
# over, for the seed, once its last parcel has left.
RUN_START, RUN_END = time(17, 0), time(18, 30)

REGION_WEIGHTS = {"US": 58, "US_REMOTE": 5, "CA": 11, "EU": 12, "UK": 8, "ROW": 6}
STATUS_WEIGHTS = {
    "awaiting_payment": 3,
    "received": 3,
    "processing": 8,
    "dispatched": 12,
    "out_for_delivery": 4,
    "delivered": 60,
    "ready_for_pickup": 3,
    "cancelled": 7,
}
METHOD_WEIGHTS = {
    "US": {"standard": 60, "express": 20, "next_day": 8, "pickup_point": 12},
    "US_REMOTE": {"standard": 1},
    "CA": {"standard": 65, "express": 20, "pickup_point": 15},
    "EU": {"standard": 75, "express": 25},
    "UK": {"standard": 75, "express": 25},
    "ROW": {"standard": 75, "express": 25},
}
PAYMENT_WEIGHTS = {
    "card": 42,
    "apple_pay": 10,
    "google_pay": 7,
    "paypal": 15,
    "klarna": 8,
    "gift_card": 6,
    "bank_transfer": 12,
}
RETURN_REASON_WEIGHTS = {"change_of_mind": 60, "faulty": 15, "damaged": 15, "wrong_item": 10}
TLDS = ("com", "net", "org")


def _pick(rng: random.Random, weights: Dict[str, int]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _et(day: date, clock: time) -> datetime:
    """``clock`` o'clock on ``day`` in the shop's time zone, as a UTC instant."""
    return datetime.combine(day, clock, tzinfo=BUSINESS_TZ).astimezone(timezone.utc)


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A random instant in [start, end], to the second."""
    seconds = max(0, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randint(0, seconds))


def _in_hours(rng: random.Random, day: date, start: time, end: time) -> datetime:
    return _between(rng, _et(day, start), _et(day, end))


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("'", "")


@dataclass
class Dataset:
    """Rows per table, in insertion order."""

    customers: List[dict] = field(default_factory=list)
    orders: List[dict] = field(default_factory=list)
    order_items: List[dict] = field(default_factory=list)
    tracking_events: List[dict] = field(default_factory=list)
    invoices: List[dict] = field(default_factory=list)
    returns: List[dict] = field(default_factory=list)
    return_items: List[dict] = field(default_factory=list)
    refunds: List[dict] = field(default_factory=list)

    def tables(self) -> List[Tuple[str, List[dict]]]:
        return [
            ("customers", self.customers),
            ("orders", self.orders),
            ("order_items", self.order_items),
            ("tracking_events", self.tracking_events),
            ("invoices", self.invoices),
            ("returns", self.returns),
            ("return_items", self.return_items),
            ("refunds", self.refunds),
        ]


@dataclass
class Timeline:
    """What happened to one parcel, and when; None for what has not happened."""

    status: str
    placed_at: datetime
    paid_at: Optional[datetime]
    dispatched_at: Optional[datetime] = None
    out_for_delivery_at: Optional[datetime] = None
    arrived_at: Optional[datetime] = None  # at the pick-up point
    delivered_at: Optional[datetime] = None  # handed over, or collected from the pick-up point
    quiet_after: Optional[datetime] = None  # the carrier's last scan of a stalled parcel
    cancelled_at: Optional[datetime] = None
    cancelled_by: Optional[str] = None


class _Builder:
    """Turns customers, items and timelines into rows, handing out ids and unique numbers."""

    def __init__(self, now: datetime, seed: int) -> None:
        self.now = now
        self.today = business_date(now)
        self.rng = random.Random(seed)
        self.data = Dataset()
        self.ids: Dict[str, int] = defaultdict(int)
        # Unique numbers drawn up front: the same seed always hands out the same ones.
        self.order_numbers = iter(self.rng.sample(range(DEMO_NUMBERS.stop, 1_000_000), 4000))
        self.invoice_numbers = iter(self.rng.sample(range(100000, 1_000_000), 4000))
        self.return_numbers = iter(self.rng.sample(range(100000, 1_000_000), 1000))
        self.emails: set = set()
        # Where each customer lives beyond what the customers table keeps; orders copy it.
        self.homes: Dict[int, dict] = {}
        # The last warehouse day whose dispatch run is over: orders paid after its cut-off are
        # still being processed.
        day = self.today
        while not (rules.is_warehouse_day(day) and _et(day, RUN_END) <= now):
            day -= timedelta(days=1)
        self.last_run_day = day

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    # --- customers ---------------------------------------------------------------------------

    def customer(
        self,
        name: str,
        email: str,
        region: str,
        place: Tuple[str, str, str, str],
        postcode: str,
        address: str,
    ) -> dict:
        country, city, region_code, _ = place
        row = dict(
            id=self.next_id("customers"),
            email=email.lower(),
            name=name,
            country=country,
            region_code=region_code,
            postcode=postcode,
        )
        self.emails.add(row["email"])
        self.data.customers.append(row)
        self.homes[row["id"]] = dict(region=region, city=city, address=address)
        return row

    def random_customer(self, region: str) -> dict:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        while True:
            email = f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 999)}@example.{rng.choice(TLDS)}"
            if email not in self.emails:
                break
        place = rng.choice(PLACES[region])
        po_box = region == "US" and rng.random() < 0.05
        if po_box:
            address = f"PO Box {rng.randint(100, 9999)}"
        else:
            address = f"{rng.randint(2, 2999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}"
        return self.customer(f"{first} {last}", email, region, place, fill_postcode(place[3], rng), address)

    # --- orders ------------------------------------------------------------------------------

    def items_for(self, currency: str, count: int) -> List[dict]:
        rng = self.rng
        catalog = [p for p in CATALOG if currency == "USD" or p[2] != "gift_card"]
        chosen = rng.sample(catalog, count)
        items = []
        for sku, name, category, usd, personalised in chosen:
            items.append(
                dict(
                    sku=sku,
                    name=name,
                    category=category,
                    qty=rng.choices((1, 2, 3), weights=(80, 15, 5))[0],
                    unit_price=price_in(usd, currency),
                    final_sale=category != "gift_card" and rng.random() < 0.06,
                    personalised=personalised,
                    opened=False,
                    hygiene_seal_broken=False,
                    used=False,
                )
            )
        return items

    def wear(self, items: List[dict]) -> None:
        """What customers do with things once they have them (only delivered orders)."""
        rng = self.rng
        for item in items:
            if item["category"] in codes.CONSUMABLE_CATEGORIES and rng.random() < 0.3:
                item["opened"] = True
            if item["sku"] == EARBUDS and rng.random() < 0.25:
                item["hygiene_seal_broken"] = True
            if item["category"] in codes.KITCHENWARE_CATEGORIES and rng.random() < 0.1:
                item["used"] = True

    def add_order(
        self,
        *,
        number: str,
        customer: dict,
        region: str,
        payment: str,
        method: str,
        items: List[dict],
        line: Timeline,
        shipping_cost: Optional[Decimal] = None,
        split_group: Optional[str] = None,
        cancel_fee: Optional[Decimal] = None,
        pickup_point: Optional[str] = None,
    ) -> dict:
        """One order with its items, tracking events and invoice."""
        rng = self.rng
        home = self.homes[customer["id"]]
        currency = codes.REGION_CURRENCY[region]
        subtotal = sum((i["unit_price"] * i["qty"] for i in items), Decimal("0.00"))
        if shipping_cost is None:
            shipping_cost = rules.shipping_price(region, method, subtotal)
        # A pick-up point parcel goes to the point, whatever the customer's own address is.
        po_box = home["address"].startswith("PO Box") and method != "pickup_point"
        carrier = tracking = None
        if line.dispatched_at is not None:
            carrier = carrier_for(region, po_box)
            tracking = make_tracking_number(carrier, rng)
        order = dict(
            id=self.next_id("orders"),
            number=number,
            customer_id=customer["id"],
            placed_at=line.placed_at,
            paid_at=line.paid_at,
            status=line.status,
            region=region,
            currency=currency,
            payment_method=payment,
            shipping_method=method,
            subtotal=subtotal,
            shipping_cost=shipping_cost,
            ship_name=customer["name"],
            address_line1=home["address"],
            city=home["city"],
            region_code=customer["region_code"],
            postcode=customer["postcode"],
            country=customer["country"],
            po_box=po_box,
            carrier=carrier,
            tracking_number=tracking,
            dispatched_at=line.dispatched_at,
            delivered_at=line.delivered_at,
            estimate_from=None,
            estimate_to=None,
            split_group=split_group,
            cancelled_at=line.cancelled_at,
            cancelled_by=line.cancelled_by,
            cancel_fee=cancel_fee if line.status == "cancelled" else None,
        )
        if line.dispatched_at is not None:
            estimate = rules.delivery_estimate(SimpleNamespace(**order), self.now)
            order["estimate_from"], order["estimate_to"] = estimate.earliest, estimate.latest
        self.data.orders.append(order)
        for item in items:
            item_row = dict(item, id=self.next_id("order_items"), order_id=order["id"])
            item.update(id=item_row["id"])
            self.data.order_items.append(item_row)
        if line.dispatched_at is not None:
            self.add_events(order, line, pickup_point)
            self.data.invoices.append(
                dict(
                    id=self.next_id("invoices"),
                    number=f"INV-{next(self.invoice_numbers)}",
                    order_id=order["id"],
                    issued_at=line.dispatched_at,
                )
            )
        return order

    def add_events(self, order: dict, line: Timeline, pickup_point: Optional[str]) -> None:
        """The carrier's scans from the warehouse to the door (or the pick-up point)."""
        rng = self.rng
        carrier = order["carrier"]
        city = ", ".join(part for part in (order["city"], order["region_code"], order["country"]) if part)
        region = order["region"]
        events: List[Tuple[datetime, str, str, str]] = [
            (
                line.dispatched_at - timedelta(minutes=rng.randint(60, 180)),
                "label_created",
                "Shipping label created",
                WAREHOUSE,
            ),
            (line.dispatched_at, "picked_up", f"Picked up by {carrier}", WAREHOUSE),
        ]
        end = line.out_for_delivery_at or line.arrived_at or line.delivered_at or line.quiet_after or self.now
        dispatch_day = business_date(line.dispatched_at)
        transit_days = []
        day = dispatch_day + timedelta(days=1)
        while day < business_date(end):
            if rules.is_business_day(day):
                transit_days.append(day)
            day += timedelta(days=1)
        hubs = HUBS[region]
        if len(transit_days) > 4:  # a scan a day reads as noise: keep four, in order
            transit_days = sorted(rng.sample(transit_days, 4))
        for n, day in enumerate(transit_days):
            at = _in_hours(rng, day, time(5, 0), time(22, 0))
            if region not in codes.DOMESTIC_REGIONS and n == len(transit_days) - 1 and len(transit_days) > 1:
                events.append((at, "customs_cleared", "Cleared customs", city))
            else:
                events.append(
                    (at, "in_transit", "In transit: arrived at sorting facility", hubs[n % len(hubs)])
                )
        if line.quiet_after is not None:
            events.append((line.quiet_after, "in_transit", "In transit: departed sorting facility", hubs[-1]))
        if line.out_for_delivery_at is not None:
            events.append((line.out_for_delivery_at, "out_for_delivery", "Out for delivery", city))
        if line.arrived_at is not None:
            events.append(
                (
                    line.arrived_at,
                    "ready_for_pickup",
                    f"Ready for pick-up at {pickup_point}; held for 10 days",
                    city,
                )
            )
        if line.delivered_at is not None:
            if line.arrived_at is not None:
                events.append((line.delivered_at, "collected", "Collected from the pick-up point", city))
            else:
                if line.out_for_delivery_at is None:
                    ofd = line.delivered_at - timedelta(minutes=rng.randint(60, 300))
                    events.append((ofd, "out_for_delivery", "Out for delivery", city))
                events.append((line.delivered_at, "delivered", "Delivered", city))
        limit = min(self.now, line.quiet_after) if line.quiet_after else self.now
        kept = sorted(e for e in events if e[0] <= limit)
        for at, code, description, location in kept:
            self.data.tracking_events.append(
                dict(
                    id=self.next_id("tracking_events"),
                    order_id=order["id"],
                    at=at,
                    code=code,
                    description=description,
                    location=location,
                )
            )

    def add_refund(
        self,
        order: dict,
        *,
        amount: Decimal,
        status: str,
        issued_at: Optional[datetime],
        kind: str = "refund",
        return_id: Optional[str] = None,
    ) -> dict:
        row = dict(
            id=self.next_id("refunds"),
            order_id=order["id"],
            return_id=return_id,
            kind=kind,
            amount=max(amount, Decimal("0.00")),
            currency=order["currency"],
            method=order["payment_method"],
            status=status,
            issued_at=issued_at,
        )
        self.data.refunds.append(row)
        return row

    def add_return(
        self, order: dict, items: List[dict], *, registered_at: datetime, status: str, reason: str
    ) -> dict:
        row = dict(
            id=f"R-{next(self.return_numbers)}",
            order_id=order["id"],
            registered_at=registered_at,
            status=status,
            reason=reason,
        )
        self.data.returns.append(row)
        for item in items:
            self.data.return_items.append(
                dict(
                    id=self.next_id("return_items"),
                    return_id=row["id"],
                    order_item_id=item["id"],
                    qty=item["qty"],
                )
            )
        return row

    def settled(self, method: str, kind: str, issued_at: datetime) -> str:
        """issued, or completed once the method's window is over."""
        window = rules.refund_expected(
            SimpleNamespace(issued_at=issued_at, kind=kind, method=method, status="issued"), self.now
        )
        return "completed" if self.today > window.expected_to else "issued"

    # --- timelines -----------------------------------------------------------------------------

    def paid_for_dispatch_on(self, dispatch_day: date) -> datetime:
        """A payment time that the cut-off sends out on ``dispatch_day``."""
        previous = rules.add_business_days(dispatch_day, -1, warehouse=True)
        paid = _between(
            self.rng,
            _et(previous, rules.DISPATCH_CUTOFF) + timedelta(seconds=1),
            _et(dispatch_day, rules.DISPATCH_CUTOFF),
        )
        assert rules.dispatch_date(paid) == dispatch_day
        return paid

    def placed_before(self, paid_at: datetime, payment: str) -> datetime:
        """Bank transfers are placed first and matched 1-2 business days later (FACTS.md)."""
        if payment != "bank_transfer":
            return paid_at
        return paid_at - timedelta(hours=self.rng.randint(20, 60))

    def run_time(self, day: date) -> datetime:
        return _in_hours(self.rng, day, RUN_START, RUN_END)


def _random_customers(b: _Builder) -> Dict[str, List[dict]]:
    by_region: Dict[str, List[dict]] = defaultdict(list)
    for _ in range(RANDOM_CUSTOMERS):
        region = _pick(b.rng, REGION_WEIGHTS)
        by_region[region].append(b.random_customer(region))
    for region in codes.REGIONS:  # every region has someone, whatever the draw
        if not by_region[region]:
            by_region[region].append(b.random_customer(region))
    return by_region


def _timeline(b: _Builder, status: str, region: str, method: str, payment: str) -> Timeline:
    """When things happened to an order that has reached ``status`` by ``b.now``."""
    rng, now, today = b.rng, b.now, b.today
    (lo, hi), _, _ = rules.SHIPPING_TABLE[(region, method)]
    if status == "awaiting_payment":
        return Timeline(
            status, _between(rng, now - timedelta(days=6, hours=20), now - timedelta(minutes=5)), None
        )
    if status == "received":
        paid = _between(rng, now - timedelta(minutes=59), now - timedelta(minutes=1))
        return Timeline(status, paid, paid)
    if status == "processing":
        if rng.random() < 0.04:
            # Held up (stock, a fraud check): still processing days later, which the rules
            # report as processing_too_long.
            day = rules.add_business_days(today, -rng.randint(3, 6))
            paid = _in_hours(rng, day, time(8, 0), time(13, 0))
        else:
            paid = _between(
                rng,
                _et(b.last_run_day, rules.DISPATCH_CUTOFF) + timedelta(seconds=1),
                now - timedelta(minutes=61),
            )
        return Timeline(status, b.placed_before(paid, payment), paid)
    if status == "cancelled":
        return _cancelled_timeline(b, payment)

    def dispatched_on(day: date) -> Tuple[datetime, datetime, datetime]:
        paid = b.paid_for_dispatch_on(day)
        return b.placed_before(paid, payment), paid, b.run_time(day)

    if status == "dispatched":
        late = rng.random() < 0.05
        elapsed = rng.randint(hi + 4, hi + 9) if late else rng.randint(1, max(1, hi - 1))
        day = rules.add_business_days(today, -elapsed)
        placed, paid, dispatched = dispatched_on(day)
        quiet = None
        if late:  # the carrier lost sight of it a day or two after it left
            quiet_day = rules.add_business_days(day, rng.randint(1, 2))
            quiet = _in_hours(rng, quiet_day, time(6, 0), time(20, 0))
        return Timeline(status, placed, paid, dispatched, quiet_after=quiet)
    if status == "out_for_delivery":
        day = rules.add_business_days(today, -rng.randint(max(1, lo), hi))
        placed, paid, dispatched = dispatched_on(day)
        ofd = max(now - timedelta(minutes=rng.randint(10, 240)), dispatched + timedelta(hours=12))
        return Timeline(status, placed, paid, dispatched, out_for_delivery_at=min(ofd, now))
    if status == "ready_for_pickup":
        arrived_day = today - timedelta(days=rng.randint(0, 9))
        day = rules.add_business_days(arrived_day, -rng.randint(lo, hi))
        placed, paid, dispatched = dispatched_on(day)
        arrived = min(_in_hours(rng, arrived_day, time(9, 0), time(16, 0)), now - timedelta(minutes=5))
        return Timeline(
            status, placed, paid, dispatched, arrived_at=max(arrived, dispatched + timedelta(hours=12))
        )
    # delivered: a parcel that arrived on time (a few late), before today
    for _ in range(50):
        day = today - timedelta(days=rng.randint(2, 150))
        while not rules.is_business_day(day):
            day -= timedelta(days=1)
        transit = rng.randint(lo, hi) if rng.random() < 0.92 else rng.randint(hi + 1, hi + 3)
        arrival = rules.add_business_days(day, transit)
        if arrival < today:
            break
    placed, paid, dispatched = dispatched_on(day)
    if method == "pickup_point":
        arrived = _in_hours(rng, arrival, time(9, 0), time(16, 0))
        collected = _in_hours(
            rng,
            min(arrival + timedelta(days=rng.randint(0, 9)), today - timedelta(days=1)),
            time(10, 0),
            time(19, 0),
        )
        return Timeline(
            status, placed, paid, dispatched, arrived_at=arrived, delivered_at=max(collected, arrived)
        )
    return Timeline(
        status, placed, paid, dispatched, delivered_at=_in_hours(rng, arrival, time(9, 30), time(19, 0))
    )


def _cancelled_timeline(b: _Builder, payment: str) -> Timeline:
    rng, now = b.rng, b.now
    placed = _between(rng, now - timedelta(days=90), now - timedelta(hours=2))
    if payment == "bank_transfer":
        if rng.random() < 0.5:
            # FACTS.md, Payments: "unpaid orders auto-cancelled after 7 days" (by us, no fee)
            placed = min(placed, now - timedelta(days=7, hours=1))
            return Timeline(
                "cancelled", placed, None, cancelled_at=placed + timedelta(days=7), cancelled_by="store"
            )
        cancelled = placed + timedelta(minutes=rng.randint(10, 60 * 24 * 5))
        return Timeline("cancelled", placed, None, cancelled_at=min(cancelled, now), cancelled_by="customer")
    leaves = _et(rules.dispatch_date(placed), RUN_START)
    kind = rng.random()
    if kind < 0.5:  # within the free hour
        cancelled, by = placed + timedelta(minutes=rng.randint(2, 59)), "customer"
    elif kind < 0.85:  # later, through customer service, before the parcel left
        cancelled, by = (
            _between(rng, placed + timedelta(minutes=61), leaves - timedelta(minutes=5)),
            "customer",
        )
    else:  # by us (out of stock): never a fee
        cancelled, by = _between(rng, placed + timedelta(minutes=30), leaves - timedelta(minutes=5)), "store"
    return Timeline("cancelled", placed, placed, cancelled_at=min(cancelled, now), cancelled_by=by)


def _status_at(b: _Builder, dispatched: datetime, arrival_day: date) -> Timeline:
    """The second parcel of a split checkout: whatever its own dates make of it now."""
    rng = b.rng
    if arrival_day < b.today:
        return Timeline(
            "delivered",
            dispatched,
            dispatched,
            dispatched,
            delivered_at=_in_hours(rng, arrival_day, time(9, 30), time(19, 0)),
        )
    return Timeline("dispatched", dispatched, dispatched, dispatched)


def _random_orders(b: _Builder, customers: Dict[str, List[dict]]) -> None:
    rng = b.rng
    everyone = [c for region in codes.REGIONS for c in customers[region]]
    pickup_customers = customers["US"] + customers["CA"]
    for _ in range(RANDOM_CHECKOUTS):
        status = _pick(rng, STATUS_WEIGHTS)
        customer = rng.choice(pickup_customers if status == "ready_for_pickup" else everyone)
        region = b.homes[customer["id"]]["region"]
        po_box = b.homes[customer["id"]]["address"].startswith("PO Box")
        if status == "ready_for_pickup":
            method = "pickup_point"
        elif po_box:
            method = "standard"  # FACTS.md, Orders: "PO boxes get standard shipping only"
        else:
            weights = dict(METHOD_WEIGHTS[region])
            if status == "out_for_delivery":
                weights.pop("pickup_point", None)
            method = _pick(rng, weights)
        currency = codes.REGION_CURRENCY[region]
        items = b.items_for(currency, rng.choices((1, 2, 3, 4), weights=(40, 30, 20, 10))[0])
        subtotal = sum((i["unit_price"] * i["qty"] for i in items), Decimal("0"))
        total = subtotal + rules.shipping_price(region, method, subtotal)
        has_gift_card = any(i["category"] == "gift_card" for i in items)
        if status == "awaiting_payment":
            if method == "next_day":
                method = "standard"
            payment = "bank_transfer"
        else:
            weights = {
                m: w
                for m, w in PAYMENT_WEIGHTS.items()
                if rules.payment_method_offered(m, region, method, total, has_gift_card)
                and not (status == "received" and m == "bank_transfer")  # it would be awaiting payment
            }
            payment = _pick(rng, weights)
        line = _timeline(b, status, region, method, payment)
        split = status in ("dispatched", "delivered") and len(items) >= 2 and rng.random() < 0.06
        first_items, second_items = (
            (items[: len(items) // 2], items[len(items) // 2 :]) if split else (items, [])
        )
        if status == "delivered":
            b.wear(first_items)
        number = str(next(b.order_numbers))
        fee = None
        if status == "cancelled":
            quote = rules.cancellation_quote(
                SimpleNamespace(
                    status="processing" if line.paid_at else "awaiting_payment",
                    placed_at=line.placed_at,
                    payment_method=payment,
                    currency=currency,
                ),
                line.cancelled_at,
            )
            fee = (
                quote.fee if line.cancelled_by == "customer" else Decimal("0.00")
            )  # "Orders we cancel: no fee"
        pickup = rng.choice(PICKUP_POINTS[region]) if method == "pickup_point" else None
        order = b.add_order(
            number=number,
            customer=customer,
            region=region,
            payment=payment,
            method=method,
            items=first_items,
            line=line,
            split_group=number if split else None,
            cancel_fee=fee,
            pickup_point=pickup,
        )
        if status == "cancelled" and line.paid_at is not None:
            kind = "hold_release" if payment in codes.CARD_METHODS else "refund"
            b.add_refund(
                order,
                amount=order["subtotal"] + order["shipping_cost"] - fee,
                kind=kind,
                issued_at=line.cancelled_at,
                status=b.settled(payment, kind, line.cancelled_at),
            )
        if split:
            (lo, hi), _, _ = rules.SHIPPING_TABLE[(region, method)]
            day = rules.add_business_days(business_date(line.dispatched_at), 1, warehouse=True)
            if day <= b.last_run_day:
                second_line = _status_at(
                    b, b.run_time(day), rules.add_business_days(day, rng.randint(lo, hi))
                )
            else:
                second_line = Timeline("processing", line.placed_at, line.paid_at)
            second_line.placed_at, second_line.paid_at = line.placed_at, line.paid_at
            if second_line.status == "delivered":
                b.wear(second_items)
            b.add_order(
                number=str(next(b.order_numbers)),
                customer=customer,
                region=region,
                payment=payment,
                method=method,
                items=second_items,
                line=second_line,
                shipping_cost=Decimal("0.00"),
                split_group=number,
                pickup_point=pickup,
            )
        if status == "delivered" and rng.random() < 0.22:
            _random_return(b, order, first_items)


def _random_return(b: _Builder, order: dict, items: List[dict]) -> None:
    """A return registered within the window, at some step of its way back, with its refund."""
    rng, now = b.rng, b.now
    reason = _pick(rng, RETURN_REASON_WEIGHTS)
    view = SimpleNamespace(**order)
    window_ends = rules.return_window_ends(view)
    latest = min(now, _et(window_ends, time(20, 0)))
    earliest = order["delivered_at"] + timedelta(hours=12)
    if latest <= earliest:
        return
    registered = _between(rng, earliest, latest)
    chosen = [i for i in items if rules.return_eligibility(SimpleNamespace(**i), view, registered, reason).ok]
    if not chosen:
        return
    # Which steps a return registered ``age`` days ago can have reached without being overdue
    # (ship within 14 days, inspection within 3 business days of arrival).
    age = (now - registered).days
    feasible = {}
    if age < 14:
        feasible["registered"] = 10
    if 2 <= age <= 20:
        feasible["in_transit"] = 10
    if 5 <= age <= 14:
        feasible["received"] = 12
    if 5 <= age <= 21:
        feasible["inspected"] = 8
    if age >= 5:
        feasible["rejected"] = 3
    if age >= 12:
        feasible["refunded"] = 30
    status = _pick(rng, feasible)
    ret = b.add_return(order, chosen, registered_at=registered, status=status, reason=reason)
    if status in ("registered", "in_transit", "rejected"):
        return
    label = rules.return_label_cost(order["region"], reason)
    amount = sum((i["unit_price"] * i["qty"] for i in chosen), Decimal("0.00")) - (
        label.amount or Decimal("0")
    )
    if status == "received":
        b.add_refund(order, amount=amount, status="pending", issued_at=None, return_id=ret["id"])
        return
    if status == "inspected":  # FACTS.md: "refund issued the same day" as the inspection
        issued = _between(rng, max(registered + timedelta(days=4), now - timedelta(days=2)), now)
    else:
        issued = _between(rng, registered + timedelta(days=4), registered + timedelta(days=8))
    refund_status = b.settled(order["payment_method"], "refund", issued)
    # "refunded" once the money has arrived; until then the return rests at "inspected".
    ret["status"] = "refunded" if refund_status == "completed" else "inspected"
    b.add_refund(order, amount=amount, status=refund_status, issued_at=issued, return_id=ret["id"])


# --- the documented demo orders --------------------------------------------------------------


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    email: str
    region: str
    country: str
    city: str
    region_code: str
    postcode: str
    address: str


DEMO_CUSTOMERS = {
    "ava": DemoCustomer(
        "Ava Lind", "ava.lind@example.com", "US", "US", "Columbus", "OH", "43215", "58 Linden Avenue"
    ),
    "ben": DemoCustomer(
        "Ben Okafor", "ben.okafor@example.com", "US", "US", "New York", "NY", "10001", "410 West 31st Street"
    ),
    "chloe": DemoCustomer(
        "Chloe Martin",
        "chloe.martin@example.com",
        "US",
        "US",
        "San Francisco",
        "CA",
        "94103",
        "1290 Harbor Lane",
    ),
    "dev": DemoCustomer(
        "Dev Patel", "dev.patel@example.com", "US", "US", "Chicago", "IL", "60614", "2231 Orchard Street"
    ),
    "farah": DemoCustomer(
        "Farah Haddad", "farah.haddad@example.com", "US", "US", "Austin", "TX", "78701", "77 Juniper Road"
    ),
    "emma": DemoCustomer(
        "Emma Rossi", "emma.rossi@example.com", "US", "US", "Atlanta", "GA", "30307", "915 Birch Court"
    ),
    "gabriel": DemoCustomer(
        "Gabriel Tremblay",
        "gabriel.tremblay@example.com",
        "CA",
        "CA",
        "Toronto",
        "ON",
        "M5V 2T6",
        "301 Front Street West",
    ),
    "hana": DemoCustomer(
        "Hana Kobayashi",
        "hana.kobayashi@example.com",
        "US",
        "US",
        "Portland",
        "OR",
        "97205",
        "1620 Aspen Drive",
    ),
    "isaac": DemoCustomer(
        "Isaac Brennan", "isaac.brennan@example.com", "US", "US", "Denver", "CO", "80202", "1444 Larch Street"
    ),
    "julia": DemoCustomer(
        "Julia Santos", "julia.santos@example.com", "US", "US", "Seattle", "WA", "98101", "600 Rowan Avenue"
    ),
    "kofi": DemoCustomer(
        "Kofi Mensah", "kofi.mensah@example.com", "US", "US", "Nashville", "TN", "37203", "85 Hawthorn Lane"
    ),
    "lena": DemoCustomer(
        "Lena Fischer",
        "lena.fischer@example.com",
        "US",
        "US",
        "Minneapolis",
        "MN",
        "55401",
        "312 Meadow Road",
    ),
    "maya": DemoCustomer(
        "Maya Collins", "maya.collins@example.com", "UK", "GB", "London", "", "SW1A 1AA", "12 Sycamore Mews"
    ),
    "noah": DemoCustomer(
        "Noah Becker", "noah.becker@example.com", "EU", "DE", "Berlin", "", "10115", "Lindenstraße 41"
    ),
}

_BY_NAME = {p[1]: p for p in CATALOG}


def _demo_items(currency: str, *names: str, **flags: Any) -> List[dict]:
    """Catalog items by name; ``flags`` maps an item name to the flags it carries."""
    items = []
    for name in names:
        sku, _, category, usd, personalised = _BY_NAME[name]
        row = dict(
            sku=sku,
            name=name,
            category=category,
            qty=1,
            unit_price=price_in(usd, currency),
            final_sale=False,
            personalised=personalised,
            opened=False,
            hygiene_seal_broken=False,
            used=False,
        )
        row.update(flags.get(name, {}))
        items.append(row)
    return items


def _demo_orders(b: _Builder) -> None:
    """The orders the README's table documents and the bot's tests rely on.

    Where a literal reading of the table would break a rule, the rule wins and the comment says
    so; where only realism suffers (an order placed three hours ago that, by the 2 pm cut-off,
    would already be on a lorry), the table wins: those orders are "processing" whatever the
    hour the demo runs at.
    """
    now, today = b.now, b.today
    people = {}
    for key, p in DEMO_CUSTOMERS.items():
        place = (p.country, p.city, p.region_code, "")
        people[key] = b.customer(p.name, p.email, p.region, place, p.postcode, p.address)

    def order(
        number: int,
        who: str,
        line: Timeline,
        items: List[dict],
        *,
        payment: str = "card",
        method: str = "standard",
        **kw: Any,
    ) -> dict:
        region = DEMO_CUSTOMERS[who].region
        return b.add_order(
            number=str(number),
            customer=people[who],
            region=region,
            payment=payment,
            method=method,
            items=items,
            line=line,
            **kw,
        )

    def shipped(day: date, hour: time = time(17, 20)) -> Tuple[datetime, datetime]:
        """Paid in the morning of ``day`` (before the cut-off), left at ``hour``."""
        return _et(day, time(9, 40)), _et(day, hour)

    def shipped_before(arrival: date, transit: int) -> Tuple[datetime, datetime]:
        """Left ``transit`` business days before a parcel that arrived on ``arrival`` (counted
        from the last business day up to it: carriers deliver on Saturdays too)."""
        while not rules.is_business_day(arrival):
            arrival -= timedelta(days=1)
        return shipped(rules.add_business_days(arrival, -transit))

    # 100001: received 20 minutes ago -> free cancellation.
    placed = now - timedelta(minutes=20)
    order(
        100001,
        "ava",
        Timeline("received", placed, placed),
        _demo_items("USD", "Stoneware mixing bowl", "Silicone spatula set"),
    )

    # 100002 and 100016: processing, placed 3 hours ago -> $7.50 to cancel, address change free.
    placed = now - timedelta(hours=3)
    order(
        100002, "ben", Timeline("processing", placed, placed), _demo_items("USD", "Cast iron skillet 26 cm")
    )
    order(
        100016,
        "ben",
        Timeline("processing", placed + timedelta(minutes=4), placed + timedelta(minutes=4)),
        _demo_items("USD", "Pour-over kettle", "Glass storage jars, set of 3"),
    )

    # 100003: dispatched "yesterday", read as the last warehouse day before today (on a Monday,
    # Friday): the warehouse does not dispatch at weekends. Cannot be cancelled; redirect $6.00.
    day = rules.add_business_days(today, -1, warehouse=True)
    paid, left = shipped(day)
    order(
        100003,
        "chloe",
        Timeline("dispatched", paid, paid, left),
        _demo_items("USD", "Chef's knife 20 cm", "Bread knife"),
    )

    # 100004: delivered 5 days ago; one returnable item, one personalised, one opened candle.
    delivered_day = today - timedelta(days=5)
    paid, left = shipped_before(delivered_day, 3)
    order(
        100004,
        "dev",
        Timeline("delivered", paid, paid, left, delivered_at=_et(delivered_day, time(14, 10))),
        _demo_items(
            "USD",
            "Linen tea towel set",
            "Engraved oak cutting board",
            "Fig & cedar candle",
            **{"Fig & cedar candle": {"opened": True}},
        ),
    )

    # 100005: paid by PayPal, cancelled by the customer 3 days ago within the free hour; the
    # refund was issued 2 days ago.
    cancelled = now - timedelta(days=3)
    placed = cancelled - timedelta(minutes=25)
    o = order(
        100005,
        "farah",
        Timeline("cancelled", placed, placed, cancelled_at=cancelled, cancelled_by="customer"),
        _demo_items("USD", "Wool throw, moss"),
        payment="paypal",
        cancel_fee=Decimal("0.00"),
    )
    b.add_refund(
        o, amount=o["subtotal"] + o["shipping_cost"], status="issued", issued_at=now - timedelta(days=2)
    )

    # 100006: waiting for a bank transfer since 2 days ago -> free cancellation.
    order(
        100006,
        "emma",
        Timeline("awaiting_payment", now - timedelta(days=2), None),
        _demo_items("USD", "Enamelled Dutch oven 4.5 qt"),
        payment="bank_transfer",
    )

    # 100007: Canada, out for delivery today with Canada Post.
    day = rules.add_business_days(today, -6)
    paid, left = shipped(day)
    order(
        100007,
        "gabriel",
        Timeline("out_for_delivery", paid, paid, left, out_for_delivery_at=now - timedelta(minutes=45)),
        _demo_items("CAD", "Bluetooth kitchen speaker", "Cotton napkins, set of 4"),
    )

    # 100008: delivered 40 days ago -> window closed. Had that day fallen between Nov 15 and
    # Dec 24 the window would run to Jan 31, so it moves back to Nov 14 to stay closed.
    delivered_day = today - timedelta(days=40)
    if (11, 15) <= (delivered_day.month, delivered_day.day) <= (12, 24):
        delivered_day = date(delivered_day.year, 11, 14)
    paid, left = shipped_before(delivered_day, 4)
    order(
        100008,
        "hana",
        Timeline("delivered", paid, paid, left, delivered_at=_et(delivered_day, time(11, 5))),
        _demo_items("USD", "Ceramic vase, sand", "Bath towel, oat"),
    )

    # 100009: left 12 business days ago, last scan 6 business days ago, never arrived -> late.
    day = rules.add_business_days(today, -12)
    paid, left = shipped(day)
    quiet = _et(rules.add_business_days(today, -6), time(15, 30))
    order(
        100009,
        "isaac",
        Timeline("dispatched", paid, paid, left, quiet_after=quiet),
        _demo_items("USD", "Carbon steel wok", "House blend coffee beans 500 g"),
    )

    # 100010: waiting at a US pick-up point since yesterday.
    arrived = now - timedelta(days=1)
    paid, left = shipped_before(business_date(arrived), 3)
    order(
        100010,
        "julia",
        Timeline("ready_for_pickup", paid, paid, left, arrived_at=arrived),
        _demo_items("USD", "Digital kitchen scale", "Beeswax taper pair"),
        method="pickup_point",
        pickup_point=PICKUP_POINTS["US"][0],
    )

    # 100011: delivered, returned (change of mind), inspected; card refund issued yesterday.
    delivered_day = today - timedelta(days=20)
    paid, left = shipped_before(delivered_day, 3)
    o = order(
        100011,
        "kofi",
        Timeline("delivered", paid, paid, left, delivered_at=_et(delivered_day, time(16, 45))),
        _demo_items("USD", "Wool throw, moss", "Paring knife"),
    )
    returned = [i for i in b.data.order_items if i["order_id"] == o["id"] and i["name"] == "Wool throw, moss"]
    ret = b.add_return(
        o, returned, registered_at=now - timedelta(days=15), status="inspected", reason="change_of_mind"
    )
    label = rules.return_label_cost("US", "change_of_mind").amount
    b.add_refund(
        o,
        amount=returned[0]["unit_price"] - label,
        status="issued",
        issued_at=now - timedelta(days=1),
        return_id=ret["id"],
    )

    # 100012 + 100013: one checkout in two parcels; the first delivered, the second on its way.
    first_day = rules.add_business_days(today, -5)
    paid, left = shipped(first_day)
    delivered = _et(rules.add_business_days(first_day, 3), time(13, 0))
    order(
        100012,
        "lena",
        Timeline("delivered", paid, paid, left, delivered_at=delivered),
        _demo_items("USD", "Oak cutting board", "Castile dish soap 500 ml"),
        split_group="100012",
    )
    order(
        100013,
        "lena",
        Timeline("dispatched", paid, paid, _et(rules.add_business_days(first_day, 2), time(17, 30))),
        _demo_items("USD", "Knife block, walnut"),
        split_group="100012",
        shipping_cost=Decimal("0.00"),
    )

    # 100014: UK, processing -> £7.50 to cancel; a redirect after dispatch would be refused (non-US).
    placed = now - timedelta(hours=2)
    order(100014, "maya", Timeline("processing", placed, placed), _demo_items("GBP", "Pour-over kettle"))

    # 100015: EU, Klarna, delivered 3 days ago: one Final Sale item, one normal item.
    delivered_day = today - timedelta(days=3)
    paid, left = shipped_before(delivered_day, 6)
    order(
        100015,
        "noah",
        Timeline("delivered", paid, paid, left, delivered_at=_et(delivered_day, time(12, 20))),
        _demo_items(
            "EUR", "Wool throw, moss", "Ceramic vase, sand", **{"Wool throw, moss": {"final_sale": True}}
        ),
        payment="klarna",
    )


def build_dataset(now: datetime, seed: int) -> Dataset:
    """Every row of the demo data for a shop whose clock reads ``now``; pure and repeatable."""
    if now.utcoffset() is None:
        raise ValueError("the seed needs a timezone-aware now")
    b = _Builder(now, seed)
    _demo_orders(b)
    _random_orders(b, _random_customers(b))
    return b.data


def has_data(engine: Engine) -> bool:
    """Whether the database holds any orders (False before the tables exist)."""
    from sqlalchemy import inspect

    from store.models import Order

    if not inspect(engine).has_table(Order.__tablename__):
        return False
    with engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(Order)).scalar())


def seed_database(engine: Engine, now: datetime, seed: int) -> Dict[str, int]:
    """Drops and rebuilds every table, then writes the demo data in one transaction.

    Returns rows per table. The caller decides whether existing data may go (``--force``).
    """
    from store import db, models

    data = build_dataset(now, seed)
    db.drop_all(engine)
    db.create_all(engine)
    tables = {t.name: t for t in models.Base.metadata.sorted_tables}
    with engine.begin() as conn:
        for name, rows in data.tables():
            if rows:
                conn.execute(insert(tables[name]), rows)
        conn.execute(
            insert(tables["seed_info"]),
            [
                dict(
                    id=1,
                    seed=seed,
                    reference_now=now,
                    built_at=datetime.now(timezone.utc),
                    orders=len(data.orders),
                )
            ],
        )
        if conn.dialect.name == "postgresql":
            _advance_sequences(conn, tables.values())
    counts = {name: len(rows) for name, rows in data.tables()}
    log.info("store.seeded seed=%s orders=%s customers=%s", seed, counts["orders"], counts["customers"])
    return counts


def _advance_sequences(conn: Any, tables: Any) -> None:
    """PostgreSQL hands out ids from sequences, which rows written with explicit ids do not move:
    set each past the highest id, or the service's first new refund would collide with row 1."""
    for table in tables:
        column = table.c.get("id")
        if column is None or not isinstance(column.type, Integer):
            continue
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )
