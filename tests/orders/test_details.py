"""Order numbers, e-mails and postcodes as customers write them (bot/orders/details.py), and the
NLU component that marks them (bot/nlu/order_entities.py uses the same parser)."""

import pytest

from bot.orders import details


@pytest.mark.parametrize("text, expected", [
    ("#482913", ["482913"]),
    ("482913", ["482913"]),
    ("where is order 482 913?", ["482913"]),
    ("it's 482-913.", ["482913"]),
    ("# 482913", ["482913"]),
    ("order no. 482913, email ana@example.com", ["482913"]),
    ("not 482913, it's 482931", ["482913", "482931"]),
    ("Order #482913!!", ["482913"]),
])
def test_order_numbers_in_the_forms_customers_write_them(text, expected):
    assert [f.value for f in details.order_numbers(text)] == expected


@pytest.mark.parametrize("text", [
    "my zip is 43215",  # five digits
    "call me on 614-555-0190",  # a phone number
    "+44 7700 900123",  # a phone number with a six-digit group
    "invoice INV-204981",  # an invoice number
    "it cost $482913",  # money
    "the card ends 1234567",  # seven digits
    "version 12.482913",
    "order 048291",  # order numbers never start with 0
])
def test_other_numbers_are_not_order_numbers(text):
    assert details.order_numbers(text) == []


def test_the_last_order_number_wins_a_correction():
    assert details.order_number("sorry, not 482913, it's 482931") == "482931"
    assert details.order_number("no number here") is None


def test_emails_are_lowercased_and_found_in_a_sentence():
    assert details.email("It's Ava.Lind@Example.com, thanks.") == "ava.lind@example.com"
    assert details.email("j.smith+shop@example.org") == "j.smith+shop@example.org"
    assert details.email("at example dot com") is None


@pytest.mark.parametrize("text, expected", [
    ("43215", "43215"),
    ("zip is 10001-2345", "10001-2345"),
    ("postcode M5V 2T6", "M5V 2T6"),
    ("sw1a 1aa", "SW1A 1AA"),
    ("1012 AB", "1012 AB"),
    ("order 100001 and zip 43215", "43215"),  # the order number is not taken for a postcode
])
def test_postcodes_of_the_regions_we_ship_to(text, expected):
    assert details.postcode(text) == expected


def test_a_masked_email_shows_only_enough_to_recognise_it():
    assert details.masked_email("maria.k@example.com") == "m***@example.com"


def test_order_numbers_and_emails_as_entities_with_their_place():
    # what the NLU component (bot/nlu/order_entities.py) puts in place of DIET's
    text = "cancel order 482 913 please, ava@example.com"
    entities = details.found_entities(text)
    assert [(e["entity"], e["value"]) for e in entities] == [
        ("order_number", "482913"), ("email", "ava@example.com")]
    assert text[entities[0]["start"]:entities[0]["end"]] == "482 913"
