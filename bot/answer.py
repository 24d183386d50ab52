"""Chooses the reply for a support intent (used by actions/actions.py).

For now the reply is one of the responses in domain.yml; the knowledge base will take over here.
Pure functions: no Rasa, no I/O, unit-tested in tests/unit/test_answer.py.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

FALLBACK_RESPONSE = "utter_default"


def normalise_entity(entity: str, value: Any) -> Optional[str]:
    """Puts an extracted entity value in the form replies use ('#482913' -> '482913')."""
    if value is None:
        return None
    text = str(value).strip()
    if entity == "order_number":
        digits = re.sub(r"\D", "", text)
        return digits or None
    if entity == "invoice_number":
        match = re.search(r"(?i)inv[-\s]?(\d+)", text)
        return f"INV-{match.group(1)}" if match else (text.upper() or None)
    return text or None


def entity_values(entities: Iterable[Mapping[str, Any]]) -> Dict[str, str]:
    """The first normalised value of each entity type in a parsed message."""
    values: Dict[str, str] = {}
    for entity in entities:
        name = entity.get("entity")
        if not name or name in values:
            continue
        value = normalise_entity(name, entity.get("value"))
        if value:
            values[name] = value
    return values


def pick_response(
    intent: Optional[str], entities: Mapping[str, str], responses: Iterable[str]
) -> Tuple[str, Dict[str, str]]:
    """Returns (response name, template values) for an intent.

    A response `utter_<intent>_with_<entity>` is preferred when that entity was given, so
    "where is my order #482913" can name the order; otherwise `utter_<intent>`.
    """
    available = set(responses)
    if intent:
        for entity, value in entities.items():
            specific = f"utter_{intent}_with_{entity}"
            if specific in available:
                return specific, {entity: value}
        if f"utter_{intent}" in available:
            return f"utter_{intent}", {}
    return FALLBACK_RESPONSE, {}


SUPPORT_INTENTS: List[str] = [
    "cancel_order", "change_order", "place_order", "track_order", "change_shipping_address",
    "set_up_shipping_address", "check_cancellation_fee", "check_invoice", "get_invoice",
    "check_payment_methods", "payment_issue", "check_refund_policy", "get_refund", "track_refund",
    "complaint", "review", "contact_customer_service", "contact_human_agent", "create_account",
    "delete_account", "edit_account", "recover_password", "registration_problems",
    "switch_account", "delivery_options", "delivery_period", "newsletter_subscription",
]
