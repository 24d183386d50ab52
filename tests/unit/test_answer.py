import numpy as np

from bot.answer import (
    NO_ANSWER,
    SUPPORT_INTENTS,
    answer_from_passage,
    entity_values,
    extractive_answer,
    normalise_entity,
    passage_units,
    render_units,
    search_query,
    strip_entities,
)
from bot.retrieval.articles import Passage
from bot.retrieval.search import Hit, SearchResult


def test_order_numbers_lose_their_hash():
    assert normalise_entity("order_number", "#482913") == "482913"
    assert normalise_entity("order_number", "order 482913") == "482913"
    assert normalise_entity("order_number", "#") is None


def test_invoice_numbers_are_normalised():
    assert normalise_entity("invoice_number", "inv-330127") == "INV-330127"
    assert normalise_entity("invoice_number", "INV 204981") == "INV-204981"


def test_first_value_of_each_entity_wins():
    entities = [
        {"entity": "order_number", "value": "#111111"},
        {"entity": "order_number", "value": "#222222"},
        {"entity": "email", "value": "a@b.example"},
    ]
    assert entity_values(entities) == {"order_number": "111111", "email": "a@b.example"}


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
        ("item", "Method: Time"),
        ("item", "Gift card: within 24 hours"),
        ("sentence", "Ask us if it takes longer."),
    ]
    # One message: single newlines only (Rasa splits replies at blank lines).
    assert render_units(units) == (
        "Refunds go back to how you paid. Cards take longer.\n"
        "- PayPal: 3-5 business days\n- Method: Time\n- Gift card: within 24 hours\n"
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


def test_the_search_query_carries_the_intent_and_drops_entity_values():
    entities = [{"entity": "order_number", "value": "#123456", "start": 18, "end": 25}]
    assert search_query("track_order", "where is my order #123456 now", entities) == (
        "track order: where is my order now"
    )
    assert search_query("out_of_scope", "what's the weather", []) == "what's the weather"
    assert strip_entities("#123456", entities[:0]) == "#123456"


def _result(score, threshold=0.4):
    passage = Passage("refunds#1", "refunds", "How long refunds take", "https://help.example/refunds",
                      "Timing", "PayPal takes 3-5 business days. Cards take 5-10 business days.")
    return SearchResult("paypal refund", [Hit(passage, score, 1)], threshold)


def test_an_answer_quotes_the_passage_and_links_the_article():
    answer = extractive_answer(_result(0.8), np.array([1.0, 0.0, 0.0]), _fake_embed, {"order_number": "123456"})
    assert answer.kind == "extractive" and not answer.offers_handoff
    assert answer.text.startswith("About order #123456: PayPal takes 3-5 business days.")
    assert answer.text.endswith("How long refunds take - https://help.example/refunds")
    assert answer.sources[0]["article_id"] == "refunds"


def test_below_the_threshold_the_bot_says_it_does_not_know_and_offers_a_person():
    answer = extractive_answer(_result(0.2), np.array([1.0, 0.0, 0.0]), _fake_embed)
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
