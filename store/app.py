"""The store service's HTTP face (FastAPI): routes, the bearer check, and the one error handler.

Routes stay thin: they read the request, call ``access``, ``views`` or ``operations``, and send
what comes back. Every error is a ``store.errors.StoreError`` rendered by ``_store_error``.
The clock is read from ``app.state.settings`` on every request, so a test can move a fixed clock
by replacing the settings.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Dict, Iterator, Optional, Union

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from store import access, clock, db, operations, repository, schemas, views
from store.errors import MissingIdempotencyKey, NoInvoice, NotFound, StoreError, UnknownOperation
from store.idempotency import Outcome, read_back, run_once
from store.settings import StoreSettings, get_store_settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
The demo shop's order system for the Larkspur customer-service bot.

1. `POST /v1/verify` with the order number and the checkout e-mail (or the delivery postcode)
   returns a bearer token for that one order.
2. Send it as `Authorization: Bearer <token>` to the `/v1/orders/{number}` routes.
3. State-changing calls need an `Idempotency-Key` header: the same key again returns the first
   answer (`"replayed": true`) and changes nothing; `GET /v1/operations/{key}` reads it back.

Errors are `{"detail": {"code": ...}}`. Amounts are strings ("7.50") beside their currency.
"""

_bearer = HTTPBearer(auto_error=False, description="the token from POST /v1/verify")


def _errors(*status_codes: int) -> Dict[int, Dict[str, Any]]:
    return {code: {"model": schemas.ErrorBody} for code in status_codes}


def _settings(request: Request) -> StoreSettings:
    return request.app.state.settings


def _now(request: Request) -> datetime:
    return clock.now(request.app.state.settings)


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def _order_number(
    number: str,
    request: Request,
    credentials: Optional[HTTPAuthorizationCredentials] = Depends(_bearer),
) -> str:
    """The path's order number, once the bearer token has been checked against it."""
    token = credentials.credentials if credentials else None
    return access.authorize(_settings(request), _now(request), token, number)


def _token_number(
    request: Request, credentials: Optional[HTTPAuthorizationCredentials] = Depends(_bearer)
) -> str:
    """The order number the bearer token opens (for routes without a number in the path)."""
    token = credentials.credentials if credentials else None
    return access.token_owner(_settings(request), _now(request), token)


def _idempotency_key(
    idempotency_key: Optional[str] = Header(
        default=None,
        alias="Idempotency-Key",
        max_length=200,
        description="required: a unique key per intended change (a UUID will do)",
    ),
) -> str:
    if not idempotency_key or not idempotency_key.strip():
        raise MissingIdempotencyKey()
    return idempotency_key.strip()


def _respond(outcome: Outcome) -> JSONResponse:
    headers = None
    if outcome.replayed:
        headers = {"Idempotent-Replayed": "true", "Idempotency-Operation": outcome.operation}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


def create_app(settings: Optional[StoreSettings] = None) -> FastAPI:
    """The service, with its own engine on ``settings.db_url`` (tables made if missing)."""
    settings = settings or get_store_settings()
    engine = db.make_engine(settings)
    db.create_all(engine)

    app = FastAPI(title="Larkspur store service", version="1", description=DESCRIPTION)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = db.session_factory(engine)

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, error: StoreError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers())

    @app.get("/health", response_model=schemas.Health, tags=["service"])
    def health(session: Session = Depends(_session)) -> schemas.Health:
        return schemas.Health(status="ok", orders=repository.count_orders(session))

    @app.post(
        "/v1/verify", response_model=schemas.VerifyResponse, responses=_errors(404, 429), tags=["access"]
    )
    def verify(body: schemas.VerifyRequest, request: Request) -> schemas.VerifyResponse:
        """Checks that the caller knows the order's e-mail or postcode; returns a token for it.

        Wrong number, e-mail or postcode: 404 `not_found`, the same for all three. Ten failures
        on one number within 15 minutes: 429 `locked` for 15 minutes, right details or not.
        """
        return access.verify(request.app.state.sessions, _settings(request), _now(request), body)

    @app.get(
        "/v1/orders/{number}", response_model=schemas.OrderView, responses=_errors(401, 404), tags=["orders"]
    )
    def get_order(
        request: Request, number: str = Depends(_order_number), session: Session = Depends(_session)
    ) -> JSONResponse:
        """The order as the customer should see it now, with what can still be done to it."""
        order = repository.load_order(session, number)
        if order is None:
            raise NotFound()
        view = views.order_view(order, _now(request), repository.split_siblings(session, order))
        return JSONResponse(views.dump(view))

    @app.post(
        "/v1/orders/{number}/cancel",
        response_model=schemas.CancelResponse,
        responses=_errors(400, 401, 404, 409),
        tags=["orders"],
    )
    def cancel(
        request: Request, number: str = Depends(_order_number), key: str = Depends(_idempotency_key)
    ) -> JSONResponse:
        """Cancels the order: free within 60 minutes or while a bank transfer is awaited,
        then 7.50 in the order's currency until dispatch; 409 `not_cancellable` after."""
        now = _now(request)
        return _respond(
            run_once(
                request.app.state.sessions,
                key=key,
                operation="cancel",
                order_number=number,
                now=now,
                action=lambda s: operations.cancel(s, number, now),
            )
        )

    @app.post(
        "/v1/orders/{number}/address",
        response_model=schemas.AddressChangeResponse,
        responses=_errors(400, 401, 404, 409),
        tags=["orders"],
    )
    def change_address(
        body: schemas.AddressChangeRequest,
        request: Request,
        number: str = Depends(_order_number),
        key: str = Depends(_idempotency_key),
    ) -> JSONResponse:
        """Changes the delivery address: free before dispatch; after it, a $6.00 carrier
        redirect for US standard/express parcels only; 409 `address_not_changeable` otherwise."""
        now = _now(request)
        return _respond(
            run_once(
                request.app.state.sessions,
                key=key,
                operation="address",
                order_number=number,
                now=now,
                action=lambda s: operations.change_address(s, number, body.address, now),
            )
        )

    @app.get(
        "/v1/orders/{number}/invoice",
        response_model=schemas.Invoice,
        responses=_errors(401, 404),
        tags=["orders"],
    )
    def invoice(
        request: Request, number: str = Depends(_order_number), session: Session = Depends(_session)
    ) -> JSONResponse:
        """The invoice, issued on dispatch day; 404 `no_invoice` before that."""
        order = repository.load_order(session, number)
        if order is None:
            raise NotFound()
        if order.invoice is None:
            raise NoInvoice(reason="cancelled" if order.status == "cancelled" else "not_dispatched")
        return JSONResponse(views.dump(views.invoice_view(order.invoice, order.number)))

    @app.post(
        "/v1/orders/{number}/returns",
        response_model=schemas.ReturnResponse,
        responses=_errors(400, 401, 404, 409),
        tags=["orders"],
    )
    def register_return(
        request: Request,
        body: Optional[schemas.ReturnRequest] = None,
        number: str = Depends(_order_number),
        key: str = Depends(_idempotency_key),
    ) -> JSONResponse:
        """Registers a return of the named items (every returnable item when none are named).
        Items that cannot go back are listed with their reason; 409 `nothing_returnable` when
        none can."""
        body = body or schemas.ReturnRequest()
        now = _now(request)
        return _respond(
            run_once(
                request.app.state.sessions,
                key=key,
                operation="return",
                order_number=number,
                now=now,
                action=lambda s: operations.register_return(s, number, body.skus, body.reason, now),
            )
        )

    @app.get(
        "/v1/operations/{key}",
        response_model=Union[schemas.CancelResponse, schemas.AddressChangeResponse, schemas.ReturnResponse],
        responses=_errors(401, 404, 409),
        tags=["orders"],
    )
    def operation(
        key: str, number: str = Depends(_token_number), session: Session = Depends(_session)
    ) -> JSONResponse:
        """The answer the state-changing call sent with this Idempotency-Key got, again: same
        status, same body, `"replayed": true` (the header `Idempotency-Operation` names the
        call). For a client that lost the reply; only for the order the token opens, else 404
        `unknown_operation`."""
        outcome = read_back(session, key, number)
        if outcome is None:
            raise UnknownOperation()
        return _respond(outcome)

    _document_required_keys(app)
    log.info("store.app_ready db=%s", engine.url.render_as_string(hide_password=True))
    return app


def _document_required_keys(app: FastAPI) -> None:
    """The document marks Idempotency-Key as required. The header is declared optional so that
    a missing key gets this contract's 400 ``missing_idempotency_key`` rather than a 422."""
    build = app.openapi

    def openapi() -> Dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for path in document["paths"].values():
                for operation in path.values():
                    for parameter in operation.get("parameters", []):
                        if parameter["name"] == "Idempotency-Key":
                            parameter["required"] = True
                            parameter["schema"] = {"type": "string", "maxLength": 200}
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
