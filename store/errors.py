"""The store's typed errors; ``app.py`` turns each into its JSON answer in one handler.

Every error body has the shape ``{"detail": {"code": ..., ...}}``: clients branch on ``code``,
never on the HTTP text.
"""

from __future__ import annotations

from typing import Any, Dict, Optional


class StoreError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, **extra: Any) -> None:
        super().__init__(self.code)
        self.extra = extra

    def body(self) -> Dict[str, Any]:
        return {"detail": {"code": self.code, **self.extra}}

    def headers(self) -> Optional[Dict[str, str]]:
        return None


class NotFound(StoreError):
    """Wrong number, wrong e-mail, wrong postcode: one answer for all, so the service never says
    which order numbers exist."""

    status_code, code = 404, "not_found"


class Locked(StoreError):
    status_code, code = 429, "locked"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s=retry_after_s)

    def headers(self) -> Dict[str, str]:
        return {"Retry-After": str(self.extra["retry_after_s"])}


class Unauthorized(StoreError):
    status_code, code = 401, "unauthorized"

    def headers(self) -> Dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class MissingIdempotencyKey(StoreError):
    status_code, code = 400, "missing_idempotency_key"


class IdempotencyKeyConflict(StoreError):
    """The key was already used for another call (another order or operation)."""

    status_code, code = 409, "idempotency_key_conflict"


class NotCancellable(StoreError):
    status_code, code = 409, "not_cancellable"


class AddressNotChangeable(StoreError):
    status_code, code = 409, "address_not_changeable"


class NothingReturnable(StoreError):
    status_code, code = 409, "nothing_returnable"


class NoInvoice(StoreError):
    status_code, code = 404, "no_invoice"


class UnknownOperation(StoreError):
    status_code, code = 404, "unknown_operation"
