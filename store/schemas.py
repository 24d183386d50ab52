"""The HTTP contract's bodies (pydantic): what the OpenAPI document describes.

Amounts are strings with two decimals ("7.50") in the currency named beside them, so no client
parses money as a float. Instants are ISO-8601 in UTC; dates are the shop's (US Eastern) dates.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import List, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from store import codes

ReturnReason = Literal["change_of_mind", "faulty", "damaged", "wrong_item"]


class Health(BaseModel):
    status: Literal["ok"]
    orders: int


class VerifyRequest(BaseModel):
    """The order number plus the e-mail used at checkout or the delivery postcode."""

    order_number: str = Field(max_length=32, examples=["100001"])
    email: Optional[str] = Field(default=None, max_length=254, examples=["ava.lind@example.com"])
    postcode: Optional[str] = Field(default=None, max_length=16, examples=["43215"])

    @model_validator(mode="after")
    def _one_detail(self) -> "VerifyRequest":
        if not (self.email or "").strip() and not (self.postcode or "").strip():
            raise ValueError("give the e-mail or the postcode with the order number")
        return self


class VerifyResponse(BaseModel):
    token: str
    expires_at: datetime
    order_number: str


class Estimate(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date


class Event(BaseModel):
    at: datetime
    code: str
    description: str
    location: str


class Item(BaseModel):
    sku: str
    name: str
    qty: int
    unit_price: str
    returnable: bool
    not_returnable_reason: Optional[str] = Field(
        description="One of: " + ", ".join(codes.NOT_RETURNABLE_REASONS) + "; null when returnable"
    )


class Invoice(BaseModel):
    number: str = Field(examples=["INV-482913"])
    issued_at: datetime
    download_url: str


class Cancellation(BaseModel):
    allowed: bool
    fee: str
    currency: str
    reason: str = Field(
        description="within_60_minutes, awaiting_bank_transfer, after_60_minutes (allowed); "
        "dispatched, already_cancelled (not allowed)"
    )


class AddressChange(BaseModel):
    allowed: bool
    fee: str
    currency: str
    extra_days: Optional[List[int]] = Field(description="[min, max] business days a redirect adds")
    reason: str = Field(
        description="before_dispatch, carrier_redirect (allowed); cancelled, delivered, out_for_delivery, "
        "ready_for_pickup, not_us, next_day, pickup_point (not allowed)"
    )


class Lateness(BaseModel):
    code: str = Field(description="processing_too_long, past_estimate or no_tracking_update")
    next_step: str = Field(description="contact_us")
    since: date = Field(description="the last day that was still on time")
    carrier_trace_days: Optional[int] = Field(description="business days a carrier trace takes")


class ReturnLine(BaseModel):
    sku: str
    name: str
    qty: int


class Return(BaseModel):
    id: str
    status: str
    reason: str
    registered_at: datetime
    ship_by: date
    items: List[ReturnLine]


class Refund(BaseModel):
    amount: str
    currency: str
    method: str
    kind: str = Field(description="refund, or hold_release for a card that was only authorised")
    status: str = Field(description="pending, issued or completed")
    issued_at: Optional[datetime]
    expected_from: Optional[date]
    expected_to: Optional[date]
    overdue: bool
    return_id: Optional[str]


class OrderView(BaseModel):
    number: str
    status: str
    status_label: str
    placed_at: datetime
    dispatched_at: Optional[datetime]
    delivered_at: Optional[datetime]
    cancelled_at: Optional[datetime]
    region: str
    currency: str
    payment_method: str
    shipping_method: str
    subtotal: str
    shipping_cost: str
    total: str
    carrier: Optional[str]
    tracking_number: Optional[str]
    tracking_url: Optional[str]
    estimate: Optional[Estimate]
    last_event: Optional[Event]
    events: List[Event] = Field(description="newest first, at most 10")
    items: List[Item]
    invoice: Optional[Invoice]
    cancellation: Cancellation
    address_change: AddressChange
    return_window_ends: Optional[date]
    lateness: Optional[Lateness]
    returns: List[Return]
    refunds: List[Refund]
    split_group_orders: List[str] = Field(description="the other parcels of the same checkout")


class CancelResponse(BaseModel):
    status: Literal["cancelled"]
    fee: str
    currency: str
    refund: Optional[Refund]
    replayed: bool = False


class AddressChangeRequest(BaseModel):
    address: str = Field(min_length=5, max_length=300, examples=["12 Elm Street, Springfield, OH 45501"])

    @field_validator("address")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = value.strip()
        if "\n" in value or "\r" in value:
            raise ValueError("the address must be one line")
        if len(value) < 5:
            raise ValueError("the address is too short")
        return value


class AddressChangeResponse(BaseModel):
    status: Literal["changed"]
    fee: str
    currency: str
    extra_days: Optional[List[int]]
    replayed: bool = False


class ReturnRequest(BaseModel):
    skus: Optional[List[str]] = Field(
        default=None, max_length=50, description="empty or missing: every returnable item"
    )
    reason: ReturnReason = "change_of_mind"


class ReturnedItem(BaseModel):
    sku: str
    name: str


class RefusedItem(BaseModel):
    sku: str
    name: Optional[str]
    reason: str


class ReturnResponse(BaseModel):
    return_id: str
    accepted: List[ReturnedItem]
    refused: List[RefusedItem]
    ship_by: date
    label_cost: Optional[str] = Field(
        description="deducted from the refund; null: no label, ship at own cost"
    )
    currency: str
    address: str
    replayed: bool = False


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    reason: Optional[str] = None
    retry_after_s: Optional[int] = None
    refused: Optional[List[RefusedItem]] = None


class ErrorBody(BaseModel):
    detail: ErrorDetail
