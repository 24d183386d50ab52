"""bot/orders/http.py against the real store service (store/), in-process."""

import asyncio

import httpx
import pytest

from bot.orders.backend import AccessExpired, Access, LockedOut, NotFound, Refused, Unavailable
from bot.orders.http import HttpOrderBackend
from tests.orders.conftest import DEMO_EMAIL


def run(coro):
    return asyncio.run(coro)


def test_the_right_email_or_postcode_opens_the_order(backend):
    async def go():
        access = await backend.verify("100003", email="Chloe.Martin@example.com ")
        by_postcode = await backend.verify("100003", postcode="94103")
        return await backend.order(access), by_postcode

    order, by_postcode = run(go())
    assert order["number"] == "100003" and order["status"] == "dispatched"
    assert order["carrier"] == "UPS" and order["cancellation"]["allowed"] is False
    assert by_postcode.order_number == "100003"


def test_a_wrong_email_and_a_wrong_number_are_the_same_not_found(backend):
    async def go():
        outcomes = []
        for number, email in (("100003", "someone@example.com"), ("873311", DEMO_EMAIL["100003"])):
            try:
                await backend.verify(number, email=email)
            except NotFound as e:
                outcomes.append(type(e).__name__)
        return outcomes

    assert run(go()) == ["NotFound", "NotFound"]


def test_ten_failures_on_one_number_lock_it_even_for_the_right_email(backend):
    async def go():
        for i in range(10):
            with pytest.raises(NotFound):
                await backend.verify("100010", email=f"guess{i}@example.com")
        await backend.verify("100010", email=DEMO_EMAIL["100010"])

    with pytest.raises(LockedOut) as locked:
        run(go())
    assert 0 < locked.value.retry_after_s <= 900


def test_a_token_for_one_order_does_not_open_another(backend):
    async def go():
        access = await backend.verify("100002", email=DEMO_EMAIL["100002"])
        await backend.order(Access("100003", access.token))

    with pytest.raises(AccessExpired):
        run(go())


def test_the_same_key_cancels_once_and_replays(backend, app):
    async def go():
        access = await backend.verify("100001", email=DEMO_EMAIL["100001"])
        first = await backend.cancel(access, "key-1")
        again = await backend.cancel(access, "key-1")
        other = None
        try:
            await backend.cancel(access, "key-2")
        except Refused as e:
            other = e
        return first, again, other

    first, again, other = run(go())
    assert first["status"] == "cancelled" and first["replayed"] is False
    assert float(first["fee"]) == 0
    assert again["replayed"] is True and again["fee"] == first["fee"]
    assert other is not None and other.reason == "already_cancelled"


class LosesTheFirstReply(httpx.AsyncBaseTransport):
    """Passes every request to the store, but the first POST's reply never comes back: the
    change happened and the client cannot know."""

    def __init__(self, app):
        self.inner = httpx.ASGITransport(app=app)
        self.lost = 0

    async def handle_async_request(self, request):
        reply = await self.inner.handle_async_request(request)
        if request.method == "POST" and "/cancel" in request.url.path and not self.lost:
            self.lost += 1
            await reply.aread()
            raise httpx.ReadError("connection reset", request=request)
        return reply


def test_a_cancellation_whose_reply_was_lost_is_never_reported_as_failed(app):
    transport = LosesTheFirstReply(app)
    backend = HttpOrderBackend("http://store.test", transport=transport)

    async def go():
        access = await backend.verify("100002", email=DEMO_EMAIL["100002"])
        return await backend.cancel(access, "lost-key")

    result = run(go())
    assert transport.lost == 1
    assert result["status"] == "cancelled" and float(result["fee"]) == 7.5


class Down(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request):
        raise httpx.ConnectError("connection refused", request=request)


def test_a_store_that_is_down_is_unavailable_and_nothing_changed():
    backend = HttpOrderBackend("http://store.test", transport=Down())
    with pytest.raises(Unavailable) as down:
        run(backend.cancel(Access("100002", "token"), "key"))
    assert down.value.changed is False
