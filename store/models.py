"""The store's tables, all in one place (SQLAlchemy 2, typed).

Instants are stored as UTC and come back timezone-aware, on SQLite and PostgreSQL alike. Money is
``Numeric(10, 2)`` and comes back as ``Decimal``; the currency sits next to every amount that can
differ from the order's.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, List, Optional

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from store import codes


class UTCDateTime(TypeDecorator):
    """A timezone-aware instant kept as naive UTC: SQLite has no time zones, and one rule for
    both databases means a row reads back the same wherever it was written."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("store instants must be timezone-aware")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        return None if value is None else value.replace(tzinfo=timezone.utc)


def money_column() -> Numeric:
    return Numeric(10, 2, asdecimal=True)


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    region_code: Mapped[str] = mapped_column(String(8), default="")  # state/province; "" if none
    postcode: Mapped[str] = mapped_column(String(16))

    orders: Mapped[List["Order"]] = relationship(back_populates="customer")

    @validates("email")
    def _lowercase(self, key: str, value: str) -> str:
        # Customers type their address in any case; one spelling is stored and compared.
        return value.strip().lower()


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(codes.sql_in("status", codes.ORDER_STATUSES), name="order_status"),
        CheckConstraint(codes.sql_in("region", codes.REGIONS), name="order_region"),
        CheckConstraint(codes.sql_in("currency", codes.CURRENCIES), name="order_currency"),
        CheckConstraint(codes.sql_in("payment_method", codes.PAYMENT_METHODS), name="order_payment"),
        CheckConstraint(codes.sql_in("shipping_method", codes.SHIPPING_METHODS), name="order_shipping"),
        CheckConstraint(
            "cancelled_by IS NULL OR " + codes.sql_in("cancelled_by", codes.CANCELLED_BY),
            name="order_cancelled_by",
        ),
        Index("ix_orders_split_group", "split_group"),
        Index("ix_orders_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(6), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)  # None: awaiting payment
    status: Mapped[str] = mapped_column(String(24))
    region: Mapped[str] = mapped_column(String(12))
    currency: Mapped[str] = mapped_column(String(3))
    payment_method: Mapped[str] = mapped_column(String(16))
    shipping_method: Mapped[str] = mapped_column(String(16))
    subtotal: Mapped[Decimal] = mapped_column(money_column())
    shipping_cost: Mapped[Decimal] = mapped_column(money_column())

    # Delivery address as placed; later changes are AddressChange rows.
    ship_name: Mapped[str] = mapped_column(String(120))
    address_line1: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    region_code: Mapped[str] = mapped_column(String(8), default="")
    postcode: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    po_box: Mapped[bool] = mapped_column(default=False)

    carrier: Mapped[Optional[str]] = mapped_column(String(40))
    tracking_number: Mapped[Optional[str]] = mapped_column(String(40))
    dispatched_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # The window promised at dispatch (rules.delivery_estimate), kept as it was promised.
    estimate_from: Mapped[Optional[date]] = mapped_column(Date)
    estimate_to: Mapped[Optional[date]] = mapped_column(Date)
    split_group: Mapped[Optional[str]] = mapped_column(String(16))  # parcels of one checkout

    cancelled_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    cancel_fee: Mapped[Optional[Decimal]] = mapped_column(money_column())
    cancelled_by: Mapped[Optional[str]] = mapped_column(String(16))

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[List["OrderItem"]] = relationship(
        back_populates="order", order_by="OrderItem.id", cascade="all, delete-orphan"
    )
    events: Mapped[List["TrackingEvent"]] = relationship(
        back_populates="order", order_by="TrackingEvent.at", cascade="all, delete-orphan"
    )
    invoice: Mapped[Optional["Invoice"]] = relationship(back_populates="order", uselist=False)
    returns: Mapped[List["Return"]] = relationship(back_populates="order", order_by="Return.registered_at")
    refunds: Mapped[List["Refund"]] = relationship(back_populates="order", order_by="Refund.id")
    address_changes: Mapped[List["AddressChange"]] = relationship(
        back_populates="order", order_by="AddressChange.at"
    )

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping_cost


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint(codes.sql_in("category", codes.ITEM_CATEGORIES), name="item_category"),
        CheckConstraint("qty >= 1 AND qty <= 20", name="item_qty"),  # FACTS: max 20 units online
        Index("ix_order_items_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    sku: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(32))
    qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(money_column())
    final_sale: Mapped[bool] = mapped_column(default=False)
    personalised: Mapped[bool] = mapped_column(default=False)
    opened: Mapped[bool] = mapped_column(default=False)  # a consumable whose seal is broken
    hygiene_seal_broken: Mapped[bool] = mapped_column(default=False)
    used: Mapped[bool] = mapped_column(default=False)

    order: Mapped[Order] = relationship(back_populates="items")


class TrackingEvent(Base):
    __tablename__ = "tracking_events"
    __table_args__ = (Index("ix_tracking_events_order", "order_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    code: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(120), default="")

    order: Mapped[Order] = relationship(back_populates="events")


class Invoice(Base):
    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(10), unique=True)  # INV-123456
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="invoice")


class Return(Base):
    __tablename__ = "returns"
    __table_args__ = (
        CheckConstraint(codes.sql_in("status", codes.RETURN_STATUSES), name="return_status"),
        CheckConstraint(codes.sql_in("reason", codes.RETURN_REASONS), name="return_reason"),
        Index("ix_returns_order", "order_id"),
    )

    id: Mapped[str] = mapped_column(String(8), primary_key=True)  # R-123456
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(16))

    order: Mapped[Order] = relationship(back_populates="returns")
    items: Mapped[List["ReturnItem"]] = relationship(
        back_populates="return_", order_by="ReturnItem.id", cascade="all, delete-orphan"
    )


class ReturnItem(Base):
    __tablename__ = "return_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id"))
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id"))
    qty: Mapped[int] = mapped_column(Integer)

    return_: Mapped[Return] = relationship(back_populates="items")
    order_item: Mapped[OrderItem] = relationship()


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(codes.sql_in("status", codes.REFUND_STATUSES), name="refund_status"),
        CheckConstraint(codes.sql_in("kind", codes.REFUND_KINDS), name="refund_kind"),
        CheckConstraint(codes.sql_in("method", codes.PAYMENT_METHODS), name="refund_method"),
        Index("ix_refunds_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    return_id: Mapped[Optional[str]] = mapped_column(ForeignKey("returns.id"))
    kind: Mapped[str] = mapped_column(String(16), default="refund")
    amount: Mapped[Decimal] = mapped_column(money_column())
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(16))  # always the order's payment method
    status: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)  # None while pending

    order: Mapped[Order] = relationship(back_populates="refunds")


class AddressChange(Base):
    __tablename__ = "address_changes"
    __table_args__ = (Index("ix_address_changes_order", "order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    new_address: Mapped[str] = mapped_column(Text)
    fee: Mapped[Decimal] = mapped_column(money_column())
    currency: Mapped[str] = mapped_column(String(3))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="address_changes")


class IdempotencyRecord(Base):
    """The first answer to a state-changing call, kept under the client's Idempotency-Key: the
    same key again gets this answer back and changes nothing."""

    __tablename__ = "idempotency_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    operation: Mapped[str] = mapped_column(String(16))  # cancel, address, return
    order_number: Mapped[str] = mapped_column(String(6))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VerifyFailure(Base):
    """One failed ownership check, kept against the number as typed, whether it exists or not:
    the lockout then says nothing about which numbers are real."""

    __tablename__ = "verify_failures"
    __table_args__ = (Index("ix_verify_failures_number_at", "order_number", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_number: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SeedInfo(Base):
    """What built the demo data: the seed and the clock it was built against."""

    __tablename__ = "seed_info"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seed: Mapped[int] = mapped_column(Integer)
    reference_now: Mapped[datetime] = mapped_column(UTCDateTime)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)
    orders: Mapped[int] = mapped_column(Integer)
