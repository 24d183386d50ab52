"""Access tokens: proof that the caller passed the ownership check for one order.

A token is ``<order number>.<expiry, unix seconds>.<HMAC-SHA256 of both, hex>`` signed with the
settings' secret. It carries nothing the caller did not already know, it cannot be stretched to
another order or a later expiry without the key, and it is checked in constant time. Expiry is
read against the store's clock, so a fixed test clock moves tokens along with everything else.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone
from typing import Optional, Tuple

DEFAULT_LIFETIME = timedelta(minutes=60)


def _signature(secret: str, order_number: str, expires: int) -> str:
    message = f"{order_number}.{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def issue(
    secret: str, order_number: str, now: datetime, lifetime: timedelta = DEFAULT_LIFETIME
) -> Tuple[str, datetime]:
    """A token for ``order_number`` valid until ``now + lifetime``, and that expiry."""
    expires = int((now + lifetime).timestamp())
    token = f"{order_number}.{expires}.{_signature(secret, order_number, expires)}"
    return token, datetime.fromtimestamp(expires, tz=timezone.utc)


def order_number_of(secret: str, token: str, now: datetime) -> Optional[str]:
    """The order number a valid, unexpired token was issued for; None for anything else."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    number, expires_raw, signature = parts
    expected = _signature(secret, number, int(expires_raw))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return None
    if now.timestamp() >= int(expires_raw):
        return None
    return number


def is_valid_for(secret: str, token: str, order_number: str, now: datetime) -> bool:
    """Whether ``token`` opens ``order_number`` at ``now``."""
    number = order_number_of(secret, token, now)
    return number is not None and hmac.compare_digest(number.encode(), order_number.encode())
