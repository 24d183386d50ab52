"""What the bot needs from a shop's order system: one small interface.

The actions in actions/orders.py talk to an ``OrderBackend`` only. ``http.HttpOrderBackend`` speaks
the store service's HTTP contract (docs/store-openapi.json); a shop with its own system serves
that contract, or implements this interface. Orders, quotes and results are plain dicts shaped as
the contract's JSON bodies.

Identity first: every call but ``verify`` needs the ``Access`` that ``verify`` returns for that
order's number and e-mail (or postcode), so nothing about an order is read before the customer has
proved it is theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Protocol


@dataclass(frozen=True)
class Access:
    """Proof that this conversation verified this order: the store's short-lived token."""

    order_number: str
    token: str


class OrderError(Exception):
    """Base of what a backend raises; each kind has its own reply (bot/orders/wording.py)."""


class NotFound(OrderError):
    """No order with that number and that e-mail/postcode. Deliberately one error for a wrong
    number and a wrong e-mail: the bot must not tell which order numbers exist."""


class LockedOut(OrderError):
    """Too many wrong tries on this order number; refused for ``retry_after_s``."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"locked for {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


class AccessExpired(OrderError):
    """The token is no longer accepted: verify again."""


class Refused(OrderError):
    """The shop's rules say no (``code``, ``reason``), e.g. a dispatched order is not cancelled."""

    def __init__(self, code: str, reason: Optional[str] = None, detail: Optional[Dict] = None):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.detail = detail or {}


class Unavailable(OrderError):
    """The order system did not answer (down, slow, broken). ``changed`` says what is known of a
    state-changing call: False when it certainly did not happen, None when it cannot be told."""

    def __init__(self, message: str, changed: Optional[bool] = False) -> None:
        super().__init__(message)
        self.changed = changed


class OrderBackend(Protocol):
    async def verify(
        self, order_number: str, email: Optional[str] = None, postcode: Optional[str] = None
    ) -> Access:
        """Checks the customer's details; raises NotFound, LockedOut or Unavailable."""

    async def order(self, access: Access) -> Dict[str, Any]:
        """The order as the contract's view: status, tracking, items, quotes, refunds."""

    async def cancel(self, access: Access, key: str) -> Dict[str, Any]:
        """Cancels once per idempotency ``key``; a repeat returns the first result with
        ``replayed: true``. Raises Refused when the rules forbid it."""

    async def change_address(self, access: Access, address: str, key: str) -> Dict[str, Any]:
        """Changes (or, after dispatch, redirects) the delivery address once per ``key``."""

    async def invoice(self, access: Access) -> Dict[str, Any]:
        """The order's invoice; Refused("no_invoice") before dispatch."""

    async def start_return(
        self, access: Access, key: str, skus: Optional[List[str]] = None
    ) -> Dict[str, Any]:
        """Registers a return of the returnable items (or ``skus``) once per ``key``."""

    async def operation(self, access: Access, key: str) -> Optional[Dict[str, Any]]:
        """The result of an earlier state-changing call, or None if the shop never saw it."""

    async def close(self) -> None:
        """Releases connections."""
