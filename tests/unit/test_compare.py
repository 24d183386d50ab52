import pytest

from bot.answering.compare import compare_sides


@pytest.mark.parametrize("question, side_a, side_b", [
    ("which is quicker to refund, paypal or card?", {"paypal"}, {"card"}),
    ("which takes longer, standard shipping to the EU or standard shipping to Canada?", {"eu"}, {"canada"}),
    ("whats the difference between the welcome offer and the birthday offer", {"welcom"}, {"birthday"}),
    ("how much longer does a canadian pick-up point take than an american one?", {"canada"}, {"us"}),
])
def test_the_sides_of_a_comparison_are_the_words_that_differ(question, side_a, side_b):
    found = compare_sides(question)
    assert found is not None and side_a <= found[0] and side_b <= found[1]
    assert not found[0] & found[1]


@pytest.mark.parametrize("question", ["what is your return policy", "is it free or not",
                                      "do I pay for return shipping or do you?"])
def test_a_question_that_compares_nothing_has_no_sides(question):
    assert compare_sides(question) is None
