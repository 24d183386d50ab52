"""Who may see an order: the ownership check, its lockout, and the bearer token it hands out.

FACTS.md, Shipping: tracking needs "order number + e-mail"; FACTS.md, Returns: "order number +
e-mail". The postcode of the delivery address is accepted instead of the e-mail (FACTS.md,
Smaller details: "a recent order number + billing ZIP/postal code" as an identity check).

A wrong number, e-mail or postcode gets one and the same answer, and failures are counted
against the number as typed, real or not, so neither the answer nor the lockout tells anyone
which numbers exist. Ten failures on one number within 15 minutes lock that number for 15
minutes from the tenth; tries during the lock are refused without being counted, so the lock
ends when it said it would.
"""

from __future__ import annotations

import hmac
import math
import re
from datetime import datetime, timedelta
from typing import Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import repository, tokens
from store.db import write_session
from store.errors import Locked, NotFound, Unauthorized
from store.models import Order, VerifyFailure
from store.schemas import VerifyRequest, VerifyResponse
from store.settings import StoreSettings

MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
_ORDER_NUMBER = re.compile(r"^[0-9]{6}$")


def normalize_number(raw: str) -> str:
    """The number as customers type it, cleaned: spaces and a leading '#' go ("#100 001")."""
    return re.sub(r"\s+", "", raw).lstrip("#")[:32]


def normalize_postcode(raw: str) -> str:
    return re.sub(r"\s+", "", raw).upper()


def lock_ends(failures: Sequence[datetime], now: datetime) -> Optional[datetime]:
    """When the lock on a number ends, given its failure times (oldest first); None if unlocked.

    Any ten failures within 15 minutes lock the number until 15 minutes after the tenth.
    """
    ends = None
    for i in range(MAX_FAILURES - 1, len(failures)):
        if failures[i] - failures[i - MAX_FAILURES + 1] <= FAILURE_WINDOW:
            candidate = failures[i] + LOCK_FOR
            if candidate > now and (ends is None or candidate > ends):
                ends = candidate
    return ends


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _owns(order: Order, request: VerifyRequest) -> bool:
    """Every detail given must match: the e-mail (any case, spaces trimmed), the postcode (any
    case, spaces ignored)."""
    if request.email and request.email.strip():
        if not _same(request.email.strip().lower(), order.customer.email):
            return False
    if request.postcode and request.postcode.strip():
        if not _same(normalize_postcode(request.postcode), normalize_postcode(order.postcode)):
            return False
    return True


def verify(
    sessions: "sessionmaker[Session]", settings: StoreSettings, now: datetime, request: VerifyRequest
) -> VerifyResponse:
    """A token for the order when the details match; raises Locked or NotFound otherwise."""
    number = normalize_number(request.order_number)
    locked_until = None
    owner = False
    with write_session(sessions) as session:  # counted under the write lock: no failure is lost
        recent = session.scalars(
            select(VerifyFailure.at)
            .where(VerifyFailure.order_number == number, VerifyFailure.at > now - FAILURE_WINDOW - LOCK_FOR)
            .order_by(VerifyFailure.at)
        ).all()
        locked_until = lock_ends(recent, now)
        if locked_until is None:
            order = repository.order_with_customer(session, number) if _ORDER_NUMBER.match(number) else None
            owner = order is not None and _owns(order, request)
            if not owner:
                session.add(VerifyFailure(order_number=number, at=now))
    if locked_until is not None:
        raise Locked(retry_after_s=max(1, math.ceil((locked_until - now).total_seconds())))
    if not owner:
        raise NotFound()
    token, expires_at = tokens.issue(settings.secret, number, now, timedelta(minutes=settings.token_minutes))
    return VerifyResponse(token=token, expires_at=expires_at, order_number=number)


def authorize(settings: StoreSettings, now: datetime, token: Optional[str], order_number: str) -> str:
    """The order number when ``token`` opens it; raises Unauthorized otherwise."""
    if not token or not tokens.is_valid_for(settings.secret, token, order_number, now):
        raise Unauthorized()
    return order_number


def token_owner(settings: StoreSettings, now: datetime, token: Optional[str]) -> str:
    """The order number ``token`` was issued for; raises Unauthorized for a bad or old token."""
    number = tokens.order_number_of(settings.secret, token, now) if token else None
    if number is None:
        raise Unauthorized()
    return number
