from bot.answer import SUPPORT_INTENTS, entity_values, normalise_entity, pick_response


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


def test_specific_response_when_the_entity_is_known():
    responses = ["utter_track_order", "utter_track_order_with_order_number"]
    assert pick_response("track_order", {"order_number": "123456"}, responses) == (
        "utter_track_order_with_order_number",
        {"order_number": "123456"},
    )
    assert pick_response("track_order", {}, responses) == ("utter_track_order", {})


def test_unknown_intent_gets_the_default_reply():
    assert pick_response("fly_to_mars", {}, ["utter_track_order"]) == ("utter_default", {})
    assert pick_response(None, {}, []) == ("utter_default", {})


def test_every_support_intent_has_a_response_in_the_domain():
    import yaml
    from bot.settings import ROOT

    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    assert len(SUPPORT_INTENTS) == 27
    assert set(SUPPORT_INTENTS) <= set(domain["intents"])
    for intent in SUPPORT_INTENTS:
        assert f"utter_{intent}" in domain["responses"], intent
