import numpy as np

from bot.answer import (
    NO_ANSWER,
    SUPPORT_INTENTS,
    answer_from_passage,
    extractive_answer,
    passage_units,
    render_units,
    strip_entities,
)
from bot.retrieval.articles import Passage
from bot.retrieval.search import Hit, SearchResult


def test_passages_become_sentences_and_items_without_markup():
    text = (
        "Refunds go back to how you paid. Cards take longer.\n\n"
        "- **PayPal**: 3-5 business days\n"
        "| Method | Time |\n|---|---|\n| Gift card | within 24 hours |\n\n"
        "Ask us if it takes longer."
    )
    units = passage_units(text)
    assert [u for u in units if u[0] != "break"] == [
        ("sentence", "Refunds go back to how you paid."),
        ("sentence", "Cards take longer."),
        ("item", "PayPal: 3-5 business days"),
        ("item", "Gift card: within 24 hours"),
        ("sentence", "Ask us if it takes longer."),
    ]
    # One message: single newlines only (Rasa splits replies at blank lines).
    assert render_units(units) == (
        "Refunds go back to how you paid. Cards take longer.\n"
        "- PayPal: 3-5 business days\n- Gift card: within 24 hours\n"
        "Ask us if it takes longer."
    )


def _fake_embed(sentences):
    """One axis per keyword: a stand-in for MiniLM where 'closeness' is keyword overlap."""
    keywords = ["paypal", "card", "gift"]
    return np.array([[float(k in s.lower()) for k in keywords] for s in sentences])


def test_a_short_passage_is_quoted_whole():
    text = "Cards take 5-10 days. PayPal takes 3-5 days."
    assert answer_from_passage(text, np.array([1.0, 0, 0]), _fake_embed) == text


def test_a_long_passage_keeps_the_sentences_closest_to_the_question_in_order():
    filler = " ".join(f"Unrelated sentence number {i}." for i in range(40))
    text = f"Cards take 5-10 days. {filler} PayPal takes 3-5 days. Gift cards take 24 hours."
    answer = answer_from_passage(text, np.array([1.0, 0.5, 0.0]), _fake_embed, max_chars=60)
    assert answer == "Cards take 5-10 days. PayPal takes 3-5 days."


def test_entity_values_are_dropped_from_what_is_searched():
    entities = [{"entity": "order_number", "value": "#123456", "start": 18, "end": 25}]
    assert strip_entities("where is my order #123456 now", entities) == "where is my order now"
    assert strip_entities("#123456", entities[:0]) == "#123456"


def test_a_wide_table_row_keeps_its_column_headings():
    text = "| Region | Standard | Express |\n|---|---|---|\n| Canada | 5–8 days, CA$12.95 | – |"
    assert passage_units(text) == [("item", "Canada: Standard: 5–8 days, CA$12.95")]


def _hit(unit_id, text, kind="row", heading="Time from refund to your account", rerank=None, rank=1, section=""):
    passage = Passage(f"refunds#{unit_id}", "refunds", "How long refunds take", "https://help.example/refunds",
                      heading, text, kind, section)
    return Hit(passage, 0.7, rank, rerank)


def test_the_answer_comes_first_then_its_source():
    result = SearchResult("paypal refund", [_hit(1, "PayPal: 3–5 business days", rerank=0.82),
                                            _hit(2, "Card: 5–10 business days", rerank=0.55, rank=2)], 0.4)
    answer = extractive_answer(result)
    assert answer.kind == "extractive" and not answer.offers_handoff
    # A row says whose row it is: its section's heading comes first.
    assert answer.text == ("Time from refund to your account:\n- PayPal: 3–5 business days\n"
                           "More in our help centre: How long refunds take > Time from refund to your account - "
                           "https://help.example/refunds")
    assert [s["passage_id"] for s in answer.sources] == ["refunds#1", "refunds#2"]


def test_a_close_second_row_of_the_same_table_joins_a_comparison():
    result = SearchResult("paypal or card, which is faster", [
        _hit(1, "PayPal: 3–5 business days", rerank=0.82),
        _hit(2, "Card: 5–10 business days", rerank=0.80, rank=2)], 0.4)
    assert extractive_answer(result).text.startswith(
        "Time from refund to your account:\n- PayPal: 3–5 business days\n- Card: 5–10 business days\n")


def test_a_close_unit_of_another_article_is_quoted_with_its_own_source():
    other = Hit(Passage("gift-cards#3", "gift-cards", "Gift cards", "https://help.example/gift-cards", "Refunds",
                        "Refunds to a gift card arrive within 24 hours.", "paragraph", ""), 0.6, 2, 0.79)
    far = _hit(3, "Bank transfer: 7 business days", rerank=0.60, rank=3)
    result = SearchResult("refund to gift card", [_hit(1, "Store credit: 24 hours", rerank=0.82), other, far], 0.4)
    assert extractive_answer(result).text == (
        "- Time from refund to your account - Store credit: 24 hours\n"
        "- Refunds to a gift card arrive within 24 hours.\n"
        "More in our help centre: How long refunds take > Time from refund to your account - "
        "https://help.example/refunds; "
        "Gift cards > Refunds - https://help.example/gift-cards")


def test_a_comparison_quotes_the_best_unit_for_each_side():
    # The two best units are both about cards; the PayPal row is third but is quoted, in the
    # question's order.
    result = SearchResult("which is quicker to refund, paypal or card?", [
        _hit(1, "Credit or debit card, Apple Pay: 5–10 business days", rerank=0.61),
        _hit(2, "Gift card or store credit: within 24 hours", rerank=0.60, rank=2),
        _hit(3, "PayPal: 3–5 business days", rerank=0.59, rank=3)], 0.4)
    body = extractive_answer(result).text.split("\nMore in")[0]
    assert body.splitlines()[1:3] == ["- PayPal: 3–5 business days",
                                      "- Credit or debit card, Apple Pay: 5–10 business days"]


def test_units_that_only_point_elsewhere_are_not_quoted():
    lead = _hit(1, "Have ready:", kind="item", heading="How to order by phone", rerank=0.63)
    signpost = _hit(2, "Want to order by phone? Here is how it works.", kind="paragraph", heading="",
                    rerank=0.62, rank=2)
    item = _hit(3, "Call 1-800-555-0147, Monday to Friday 8 am to 8 pm ET.", kind="paragraph",
                heading="How to order by phone", rerank=0.50, rank=3)
    body = extractive_answer(SearchResult("can i order by phone", [lead, signpost, item], 0.4)).text
    assert body.startswith("Call 1-800-555-0147") and "Have ready" not in body and "Here is how" not in body


def test_a_signpost_gives_way_to_a_unit_of_its_own_article_not_another_article():
    signpost = Hit(Passage("track#0", "track", "Tracking your order", "https://help.example/track", "",
                           "Want to follow your parcel? Here is where to find its tracking number.", "paragraph", ""),
                   0.6, 1, 0.55)
    other = _hit(2, "Look for a carrier card.", kind="item", heading="Missing parcels", rerank=0.54, rank=2)
    own = Hit(Passage("track#2", "track", "Tracking your order", "https://help.example/track", "Tracking link",
                      "The dispatch e-mail has your tracking link.", "paragraph", ""), 0.6, 3, 0.50)
    text = extractive_answer(SearchResult("how do I track a parcel", [signpost, other, own], 0.4)).text
    assert text.splitlines()[0].lstrip("- ") == "The dispatch e-mail has your tracking link.", text
    alone = extractive_answer(SearchResult("how do I track a parcel", [signpost, other], 0.4)).text
    assert alone.splitlines()[0].lstrip("- ").startswith("Want to follow your parcel?")
    assert "https://help.example/track" in alone


def test_an_intro_that_states_something_is_quoted_with_its_signpost():
    intro = Hit(Passage("returns#0", "returns", "Our return policy", "https://help.example/returns", "",
                        "Changed your mind? You can return most items within 30 days. This article sums up "
                        "the rules.", "paragraph", ""), 0.6, 1, 0.55)
    assert "within 30 days" in extractive_answer(SearchResult("what's your return policy", [intro], 0.4)).text


def test_a_list_lead_in_is_not_quoted_beside_its_own_item():
    result = SearchResult("what do i send", [
        _hit(1, "Send the following to billing: what should be changed,", kind="item", rerank=0.60),
        _hit(2, "Send the following to billing:", kind="item", rerank=0.59, rank=2)], 0.4)
    assert extractive_answer(result).text.count("Send the following") == 1


def test_items_from_two_sections_say_which_section_they_come_from():
    welcome = _hit(1, "Minimum order: 30 in your order currency.", kind="item", heading="Welcome offer: 10% off",
                   rerank=0.60)
    birthday = _hit(2, "Valid for: 30 days from the date it is sent.", kind="item", heading="Birthday offer: 15% off",
                    rerank=0.59, rank=2)
    body = extractive_answer(SearchResult("birthday discount", [welcome, birthday], 0.4)).text
    assert body.startswith("- Welcome offer: 10% off - Minimum order: 30 in your order currency.\n"
                           "- Birthday offer: 15% off - Valid for: 30 days")


def test_a_row_about_a_subject_the_question_does_not_name_is_not_quoted_beside_it():
    def row(i, text, rerank):
        return _hit(i, text, heading="Options by region", rerank=rerank, rank=i)

    result = SearchResult("standard shipping to New Zealand, how long?", [
        row(1, "International Standard: 10–20 business days", 0.70),
        row(2, "United Kingdom: Standard: 5–8 business days", 0.69)], 0.4)
    assert "United Kingdom" not in extractive_answer(result).text
    # Asked about no subject in particular, close rows are quoted together.
    result = SearchResult("how long does standard shipping take", [
        row(1, "United States: Standard: 3–5 business days", 0.70),
        row(2, "Canada: Standard: 5–8 business days", 0.69)], 0.4)
    assert "Canada: Standard" in extractive_answer(result).text


def test_a_step_brings_the_whole_list_of_steps():
    section = "Do this:\n\n1. Open Account > Orders.\n2. Select Return items.\n3. Print the label."
    result = SearchResult("how do i return", [_hit(1, "Select Return items.", kind="step", section=section)], 0.4)
    assert extractive_answer(result).text.startswith(
        "1. Open Account > Orders.\n2. Select Return items.\n3. Print the label.\n")


def test_with_no_hits_the_bot_says_it_does_not_know_and_offers_a_person():
    answer = extractive_answer(SearchResult("anything", [], 0.4))
    assert answer.text == NO_ANSWER and answer.offers_handoff and answer.kind == "no_answer"


def test_every_support_intent_is_in_the_domain_and_answered_by_the_action():
    import yaml

    from bot.settings import ROOT

    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    rules = yaml.safe_load((ROOT / "data" / "rules_support.yml").read_text())["rules"]
    answered = {r["steps"][0]["intent"] for r in rules if r["steps"][1]["action"] == "action_answer_support"}
    assert len(SUPPORT_INTENTS) == 27
    assert set(SUPPORT_INTENTS) <= set(domain["intents"])
    assert answered == set(SUPPORT_INTENTS)
