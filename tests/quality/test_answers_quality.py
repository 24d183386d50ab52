"""What the bot sends must stay right on our answer-correctness set (reports/answers.md).

The whole set (tests/answers/questions.yml, written apart from the training data) goes through
the one answer policy with the real knowledge base, re-ranker and confidence model, drafts off
(the default). Floors sit a little under what was measured, so that a change which makes the
answers worse fails here; the ceiling on false replies is the issue's goal.
"""

import pytest

from bot.evaluation.answer_set import load, problems
from bot.evaluation.answers_report import FRESH_SET, NEAR_MISSES, is_refusal_text, run_policy, score
from bot.settings import get_settings

# Reached on 2026-12-02 (reports/answers.md): correct 85.2 %, unanswerable refused 90.4 %,
# follow-ups correct 73.3 %, answerable refused 6.1 %.
CORRECT_FLOOR = 0.82
FALSE_CEILING = 0.01  # the goal: at most 1 % of replies state something false
UNANSWERABLE_REFUSED_FLOOR = 0.88
ANSWERABLE_REFUSED_CEILING = 0.10
FOLLOWUP_CORRECT_FLOOR = 0.66


# The second set (written later, by someone who saw neither the first nor the training data;
# nobody tuned on it) and the 220 near misses no article answers. Reached on 2026-12-02: 75.5 %
# correct, 0.0 % false; 75.9 % of the near misses refused.
FRESH_CORRECT_FLOOR = 0.72
NEAR_MISSES_REFUSED_FLOOR = 0.72


@pytest.fixture(scope="module")
def summary(components):
    items = load()
    return score(items, run_policy(components, items))


@pytest.fixture(scope="module")
def fresh(components):
    items = load(FRESH_SET)
    return score(items, run_policy(components, items))


def test_the_set_is_sound_and_big_enough():
    items = load()
    assert problems(items, get_settings().articles_dir) == []
    answerable = [i for i in items if i.answerable]
    assert len(answerable) >= 150 and sum(i.type == "followup" for i in answerable) >= 30
    assert sum(not i.answerable for i in items) >= 40
    for other in (FRESH_SET, NEAR_MISSES):
        assert problems(load(other), get_settings().articles_dir) == [], other


def test_replies_state_the_fact(summary):
    assert summary["correct"] >= CORRECT_FLOOR, summary["correct"]


def test_replies_almost_never_state_something_false(summary):
    assert summary["false"] <= FALSE_CEILING, summary["false_items"]


def test_questions_no_article_answers_are_refused_and_others_are_not(summary):
    assert summary["unanswerable_refused"] >= UNANSWERABLE_REFUSED_FLOOR, summary["unanswerable_refused"]
    assert summary["refused"] <= ANSWERABLE_REFUSED_CEILING, summary["refused"]


def test_follow_ups_are_answered_in_context(summary):
    assert summary["by_type"]["followup"]["correct"] >= FOLLOWUP_CORRECT_FLOOR, summary["by_type"]["followup"]


def test_a_second_set_nobody_tuned_on_is_answered_right_and_never_falsely(fresh):
    assert fresh["correct"] >= FRESH_CORRECT_FLOOR, fresh["correct"]
    assert fresh["false"] <= FALSE_CEILING, fresh["false_items"]


def test_near_misses_no_article_answers_are_refused(components):
    items = load(NEAR_MISSES)
    refused = [is_refusal_text(o["text"]) for o in run_policy(components, items)]
    assert sum(refused) / len(items) >= NEAR_MISSES_REFUSED_FLOOR, sum(refused) / len(items)

