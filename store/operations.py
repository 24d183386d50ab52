"""The state-changing calls: cancel an order, change its delivery address, register a return.

Each runs inside ``idempotency.run_once``'s write transaction and returns its answer as an
``Outcome``; refusals are answers too (the rules' reason codes), so a repeated call gets the same
refusal. The rules decide; this module only applies their verdict to the rows.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import List, Optional

from sqlalchemy.orm import Session

from store import codes, repository, rules, schemas
from store.errors import AddressNotChangeable, NotCancellable, NotFound, NothingReturnable
from store.idempotency import Outcome
from store.models import AddressChange, Order, Refund, Return, ReturnItem
from store.views import dump, item_eligibility, items_in_returns, money, refund_view

_ids = random.SystemRandom()


def _locked_order(session: Session, number: str) -> Order:
    order = repository.load_order(session, number, for_update=True)
    if order is None:
        raise NotFound()
    return order


def cancel(session: Session, number: str, now: datetime) -> Outcome:
    """Cancels the order if the rules allow it, at the rules' fee, and pays back what was paid.

    A card (or Apple/Google Pay) is only authorised until dispatch, so its money comes back as a
    released hold; other methods were charged at checkout and get a refund. An unpaid bank
    transfer has nothing to give back.
    """
    order = _locked_order(session, number)
    quote = rules.cancellation_quote(order, now)
    if not quote.allowed:
        return Outcome.of_error(NotCancellable(reason=quote.reason))
    order.status = "cancelled"
    order.cancelled_at = now
    order.cancel_fee = quote.fee
    order.cancelled_by = "customer"
    refund: Optional[Refund] = None
    if order.paid_at is not None:
        refund = Refund(
            order=order,
            kind="hold_release" if order.payment_method in codes.CARD_METHODS else "refund",
            amount=order.total - quote.fee,
            currency=order.currency,
            method=order.payment_method,
            status="issued",
            issued_at=now,
        )
        session.add(refund)
    session.flush()
    body = schemas.CancelResponse(
        status="cancelled",
        fee=money(quote.fee),
        currency=quote.currency,
        refund=refund_view(refund, now) if refund else None,
    )
    return Outcome(200, dump(body))


def change_address(session: Session, number: str, address: str, now: datetime) -> Outcome:
    """Records the new delivery address; after dispatch that is a paid carrier redirect, and
    the promised window moves by the days a redirect adds."""
    order = _locked_order(session, number)
    quote = rules.address_change_quote(order, now)
    if not quote.allowed:
        return Outcome.of_error(AddressNotChangeable(reason=quote.reason))
    session.add(
        AddressChange(order=order, new_address=address, fee=quote.fee, currency=quote.currency, at=now)
    )
    if quote.extra_days and order.estimate_from and order.estimate_to:
        order.estimate_from = rules.add_business_days(order.estimate_from, quote.extra_days[0])
        order.estimate_to = rules.add_business_days(order.estimate_to, quote.extra_days[1])
    session.flush()
    body = schemas.AddressChangeResponse(
        status="changed",
        fee=money(quote.fee),
        currency=quote.currency,
        extra_days=list(quote.extra_days) if quote.extra_days else None,
    )
    return Outcome(200, dump(body))


def _new_return_id(session: Session) -> str:
    while True:
        candidate = f"R-{_ids.randint(100000, 999999)}"
        if not repository.return_id_taken(session, candidate):
            return candidate


def register_return(
    session: Session, number: str, skus: Optional[List[str]], reason: str, now: datetime
) -> Outcome:
    """Registers the returnable items among ``skus`` (all items when none are named); the
    others are listed with the reason they cannot go back."""
    order = _locked_order(session, number)
    returned = items_in_returns(order)
    accepted, refused = [], []
    if skus:
        wanted = list(dict.fromkeys(s.strip() for s in skus if s.strip()))
        by_sku = {item.sku: item for item in order.items}
        candidates = []
        for sku in wanted:
            if sku in by_sku:
                candidates.append(by_sku[sku])
            else:
                refused.append(schemas.RefusedItem(sku=sku, name=None, reason="not_in_order"))
    else:
        candidates = list(order.items)
    for item in candidates:
        verdict = item_eligibility(item, order, now, reason, returned)
        if verdict.ok:
            accepted.append(item)
        else:
            refused.append(schemas.RefusedItem(sku=item.sku, name=item.name, reason=verdict.reason))
    if not accepted:
        return Outcome.of_error(NothingReturnable(refused=[r.model_dump() for r in refused]))
    ret = Return(
        id=_new_return_id(session),
        order=order,
        registered_at=now,
        status="registered",
        reason=reason,
        items=[ReturnItem(order_item=item, qty=item.qty) for item in accepted],
    )
    session.add(ret)
    session.flush()
    label = rules.return_label_cost(order.region, reason)
    body = schemas.ReturnResponse(
        return_id=ret.id,
        accepted=[schemas.ReturnedItem(sku=i.sku, name=i.name) for i in accepted],
        refused=refused,
        ship_by=rules.return_ship_by(now),
        label_cost=money(label.amount) if label.label else None,
        currency=label.currency,
        address=codes.RETURNS_ADDRESS,
    )
    return Outcome(200, dump(body))
