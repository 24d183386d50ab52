"""What the bot says about an order (bot/orders/wording.py), from the contract's JSON."""

from bot.orders import wording


def order(**fields):
    base = {"number": "482913", "status": "processing", "currency": "USD", "items": [],
            "refunds": [], "returns": [], "split_group_orders": []}
    return {**base, **fields}


def test_the_fee_is_said_in_the_orders_currency():
    quote = {"allowed": True, "fee": "7.50", "currency": "GBP", "reason": "after_60_minutes"}
    assert "a fee of £7.50" in wording.cancel_offer(order(cancellation=quote))
    free = {"allowed": True, "fee": "0.00", "currency": "USD", "reason": "awaiting_bank_transfer"}
    assert "free, as it's waiting for a bank transfer" in wording.cancel_offer(order(cancellation=free))


def test_a_dispatched_order_is_not_offered_a_cancellation():
    refused = {"allowed": False, "fee": "0.00", "currency": "USD", "reason": "dispatched"}
    o = order(status="dispatched", cancellation=refused)
    assert wording.cancel_offer(o) is None
    assert "can't be cancelled any more" in wording.cancel_refusal(o)


def test_non_returnable_items_are_named_with_their_reason():
    items = [
        {"name": "Linen tea towel set", "returnable": True, "not_returnable_reason": None},
        {"name": "Gift card", "returnable": False, "not_returnable_reason": "gift_card"},
    ]
    text = wording.return_offer(order(status="delivered", items=items))
    assert "for: Linen tea towel set" in text and "Gift card (gift cards can't be returned)" in text


def test_a_refund_says_the_method_and_when_the_money_arrives():
    refund = {"amount": "24.00", "currency": "USD", "method": "paypal", "status": "issued",
              "issued_at": "2025-03-17T15:00:00Z", "expected_from": "2025-03-20",
              "expected_to": "2025-03-24", "kind": "refund"}
    text = wording.refunds(order(refunds=[refund]))
    assert "Your refund of $24.00 to your PayPal has been issued" in text
    assert "between Thursday, March 20 and Monday, March 24" in text


def test_the_form_questions_name_the_order():
    assert "order #482913" in wording.question_for("order_email", "482913")
    assert wording.question_for("order_number", None) == wording.ASK_ORDER_NUMBER
    assert wording.question_for("something_else", "482913") is None
