"""Reading orders and records from the database; no rules, no HTTP."""

from __future__ import annotations

from typing import List, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from store.models import IdempotencyRecord, Order, Return, ReturnItem


def load_order(session: Session, number: str, *, for_update: bool = False) -> Optional[Order]:
    """The order with everything its view needs, or None. ``for_update`` locks its row until the
    transaction ends (PostgreSQL; SQLite's write transaction already holds the whole file)."""
    query = (
        select(Order)
        .where(Order.number == number)
        .options(
            joinedload(Order.customer),
            joinedload(Order.invoice),
            selectinload(Order.items),
            selectinload(Order.events),
            selectinload(Order.refunds),
            selectinload(Order.returns).selectinload(Return.items).selectinload(ReturnItem.order_item),
        )
    )
    if for_update:
        query = query.with_for_update(of=Order)
    return session.scalars(query).unique().one_or_none()


def order_with_customer(session: Session, number: str) -> Optional[Order]:
    """Just the order and its customer: enough for the ownership check."""
    query = select(Order).where(Order.number == number).options(joinedload(Order.customer))
    return session.scalars(query).one_or_none()


def split_siblings(session: Session, order: Order) -> List[str]:
    """The numbers of the other parcels of the order's checkout, in order."""
    if not order.split_group:
        return []
    query = (
        select(Order.number)
        .where(Order.split_group == order.split_group, Order.id != order.id)
        .order_by(Order.number)
    )
    return list(session.scalars(query))


def count_orders(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Order)) or 0


def return_id_taken(session: Session, return_id: str) -> bool:
    return session.get(Return, return_id) is not None


def find_operation(session: Session, key: str) -> Optional[IdempotencyRecord]:
    return session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.key == key)).one_or_none()
