"""The channels' in-memory caches, on a clock the test moves by hand."""

from bot.channels.cache import Expiring, Recent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_recognised_until_its_time_is_up():
    clock = Clock()
    seen = Recent(ttl_s=60, clock=clock)
    assert seen.add("Ev1", True)
    clock.now += 59
    assert not seen.add("Ev1", True) and seen.get("Ev1") is True
    clock.now += 2
    assert seen.get("Ev1") is None
    assert seen.add("Ev1", True)


def test_the_oldest_keys_go_first_when_full():
    seen = Recent(ttl_s=60, max_items=3, clock=Clock())
    for key in "abcd":
        seen.add(key, key)
    assert len(seen) == 3
    assert seen.get("a") is None and seen.get("d") == "d"


def test_a_token_is_renewed_a_margin_before_it_expires():
    clock = Clock()
    token = Expiring(margin_s=300, clock=clock)
    assert token.current() is None
    token.set("t1", lifetime_s=7200)
    clock.now += 7200 - 301
    assert token.current() == "t1"
    clock.now += 2  # 299 s before WeChat would expire it
    assert token.current() is None


def test_a_short_lived_token_is_still_used_before_renewal():
    clock = Clock()
    token = Expiring(margin_s=300, clock=clock)
    token.set("t1", lifetime_s=100)
    assert token.current() == "t1"
    clock.now += 51
    assert token.current() is None


def test_a_cleared_token_is_fetched_again():
    token = Expiring(margin_s=300, clock=Clock())
    token.set("t1", lifetime_s=7200)
    token.clear()
    assert token.current() is None
