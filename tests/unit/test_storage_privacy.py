"""What the conversation log masks in customers' messages, what it keeps, how it hashes senders."""

import hashlib
import hmac
import time

import pytest

from bot.storage.privacy import hash_sender, luhn_valid, mask_pii


@pytest.mark.parametrize(
    "text, expected",
    [
        # e-mail addresses
        ("my email is jane.doe+shop@example.co.uk thanks",
         "my email is [email] thanks"),
        ("<JOHN_SMITH@Mail.Example.COM>", "<[email]>"),
        # phone numbers, as customers write them
        ("call me on +1 (415) 555-0132", "call me on [phone]"),
        ("my number: 07700 900123", "my number: [phone]"),
        ("+44 20 7946 0958 after 5pm", "[phone] after 5pm"),
        ("ring 415.555.0132.", "ring [phone]."),
        ("tel:4155550132!", "tel:[phone]!"),
        ("order 482913 and my phone 4155550132", "order 482913 and my phone [phone]"),
        # card numbers: 13-19 digits, grouped or not, Luhn-valid
        ("card 4111 1111 1111 1111 please", "card [card] please"),
        ("card 4111-1111-1111-1111.", "card [card]."),
        ("5555555555554444", "[card]"),
        ("amex 3782 822463 10005", "amex [card]"),
        ("card 4111 1111 1111 1111 2 times", "card [card] 2 times"),
        # all at once, with the numbers the bot needs left alone
        ("order #482913, invoice INV-204981, card 5555555555554444, mail a@b.io",
         "order #482913, invoice INV-204981, card [card], mail [email]"),
    ],
)
def test_personal_data_is_masked(text, expected):
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "where is my order #482913",
        "where is my order 482913",
        "orders #482913 and #482914",
        "orders 482913 482914",
        "I need invoice INV-204981",
        "invoice inv-204981 is wrong",
        "I ordered on 2026-11-01 at 09:30",
        "it cost 1299.00 EUR",
        "tracking 1Z999AA10123456784",
        "4111111111111112",  # 16 digits that fail the Luhn check: not a card
        "ask about article a12 or ref 12345678",
        "https://larkspur.example/orders/482913",
        "",
    ],
)
def test_order_invoice_numbers_dates_and_prices_are_kept(text):
    assert mask_pii(text) == text


def test_luhn():
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


def test_masking_a_long_hostile_message_is_fast():
    for text in ("1 " * 1000, "1-" * 1000, "(1" * 1000, "a" * 1000 + "@" + "b" * 990 + ".",
                 "+1 " * 600):
        start = time.perf_counter()
        mask_pii(text)
        assert time.perf_counter() - start < 0.5


def test_sender_hash_is_hmac_sha256_hex_keyed_by_the_salt():
    expected = hmac.new(b"pepper", b"+14155550132", hashlib.sha256).hexdigest()
    assert hash_sender("+14155550132", "pepper") == expected
    assert len(expected) == 64
    assert hash_sender("+14155550132", "pepper") == hash_sender("+14155550132", b"pepper")
    assert hash_sender("+14155550132", "other salt") != expected
    assert hash_sender("alice", "pepper") != hash_sender("bob", "pepper")


def test_sender_hash_refuses_an_empty_salt():
    with pytest.raises(ValueError, match="salt"):
        hash_sender("alice", "")
