import time

from bot.nlu.cleaning import clean_text


def test_normal_text_is_untouched():
    assert clean_text("Where is my order #123456?", 100) == ("Where is my order #123456?", False)


def test_nul_and_control_characters_are_removed():
    assert clean_text("hel\x00lo\x07 there\x1b", 100).text == "hello there"


def test_whitespace_is_folded():
    assert clean_text("  where \n\n is\tmy   parcel  ", 100).text == "where is my parcel"


def test_long_text_is_cut_at_a_word_boundary():
    result = clean_text("refund " * 1000, 50)
    assert result.truncated
    assert len(result.text) <= 50
    assert result.text.endswith("refund")


def test_a_megabyte_costs_no_more_than_a_short_message():
    started = time.perf_counter()
    result = clean_text("x" * 1_000_000, 2000)
    assert time.perf_counter() - started < 0.5
    assert result.truncated and len(result.text) == 2000


def test_emoji_survive():
    assert clean_text("📦📦❓", 10).text == "📦📦❓"


def test_non_strings_become_empty():
    assert clean_text(None, 10) == ("", False)
    assert clean_text(42, 10) == ("", False)
