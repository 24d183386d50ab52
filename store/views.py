"""What the service shows of an order: the stored facts plus what the rules say about them now."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, List, Optional, Set

from store import codes, rules, schemas
from store.carriers import tracking_url
from store.models import Invoice, Order, OrderItem, Refund, TrackingEvent

MAX_EVENTS = 10


def money(amount: Decimal) -> str:
    return str(Decimal(amount).quantize(Decimal("0.01")))


def invoice_url(order_number: str) -> str:
    return f"{codes.SITE}/account/orders/{order_number}/invoice.pdf"


def invoice_view(invoice: Invoice, order_number: str) -> schemas.Invoice:
    return schemas.Invoice(
        number=invoice.number, issued_at=invoice.issued_at, download_url=invoice_url(order_number)
    )


def refund_view(refund: Refund, now: datetime) -> schemas.Refund:
    window = rules.refund_expected(refund, now)
    return schemas.Refund(
        amount=money(refund.amount),
        currency=refund.currency,
        method=refund.method,
        kind=refund.kind,
        status=refund.status,
        issued_at=refund.issued_at,
        expected_from=window.expected_from,
        expected_to=window.expected_to,
        overdue=window.overdue,
        return_id=refund.return_id,
    )


def event_view(event: TrackingEvent) -> schemas.Event:
    return schemas.Event(at=event.at, code=event.code, description=event.description, location=event.location)


def items_in_returns(order: Order) -> Set[int]:
    """Ids of the order's items already registered in a return (refused ones included: they
    were looked at and sent back)."""
    return {line.order_item_id for ret in order.returns for line in ret.items}


def item_eligibility(
    item: OrderItem, order: Order, now: datetime, reason: str, returned: Set[int]
) -> rules.ReturnEligibility:
    """The rules' answer, plus one the rules cannot know: the item is already on its way back."""
    if item.id in returned:
        return rules.ReturnEligibility(False, "already_returned")
    return rules.return_eligibility(item, order, now, reason)


def order_view(order: Order, now: datetime, siblings: List[str]) -> schemas.OrderView:
    status = rules.effective_status(order, now)
    events = sorted(order.events, key=lambda e: e.at, reverse=True)[:MAX_EVENTS]
    estimate = rules.promised_estimate(order, now)
    cancel = rules.cancellation_quote(order, now)
    address = rules.address_change_quote(order, now)
    late = rules.lateness(order, now)
    returned = items_in_returns(order)
    items = []
    for item in order.items:
        verdict = item_eligibility(item, order, now, "change_of_mind", returned)
        items.append(
            schemas.Item(
                sku=item.sku,
                name=item.name,
                qty=item.qty,
                unit_price=money(item.unit_price),
                returnable=verdict.ok,
                not_returnable_reason=verdict.reason,
            )
        )
    return schemas.OrderView(
        number=order.number,
        status=status,
        status_label=codes.ORDER_STATUSES[status],
        placed_at=order.placed_at,
        dispatched_at=order.dispatched_at,
        delivered_at=order.delivered_at,
        cancelled_at=order.cancelled_at,
        region=order.region,
        currency=order.currency,
        payment_method=order.payment_method,
        shipping_method=order.shipping_method,
        subtotal=money(order.subtotal),
        shipping_cost=money(order.shipping_cost),
        total=money(order.total),
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        tracking_url=tracking_url(order.number) if order.tracking_number else None,
        estimate=schemas.Estimate(from_=estimate.earliest, to=estimate.latest) if estimate else None,
        last_event=event_view(events[0]) if events else None,
        events=[event_view(e) for e in events],
        items=items,
        invoice=invoice_view(order.invoice, order.number) if order.invoice else None,
        cancellation=schemas.Cancellation(
            allowed=cancel.allowed, fee=money(cancel.fee), currency=cancel.currency, reason=cancel.reason
        ),
        address_change=schemas.AddressChange(
            allowed=address.allowed,
            fee=money(address.fee),
            currency=address.currency,
            extra_days=list(address.extra_days) if address.extra_days else None,
            reason=address.reason,
        ),
        return_window_ends=rules.return_window_ends(order),
        lateness=_lateness_view(late),
        returns=[
            schemas.Return(
                id=ret.id,
                status=ret.status,
                reason=ret.reason,
                registered_at=ret.registered_at,
                ship_by=rules.return_ship_by(ret.registered_at),
                items=[
                    schemas.ReturnLine(sku=line.order_item.sku, name=line.order_item.name, qty=line.qty)
                    for line in ret.items
                ],
            )
            for ret in order.returns
        ],
        refunds=[refund_view(r, now) for r in order.refunds],
        split_group_orders=siblings,
    )


def _lateness_view(late: Optional[rules.Lateness]) -> Optional[schemas.Lateness]:
    if late is None:
        return None
    return schemas.Lateness(
        code=late.code, next_step=late.next_step, since=late.since, carrier_trace_days=late.carrier_trace_days
    )


def dump(model: Any) -> dict:
    """A response model as the JSON the client receives."""
    return model.model_dump(mode="json", by_alias=True)
