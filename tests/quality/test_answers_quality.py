"""What the bot sends must stay right on our answer-correctness set (reports/answers.md).

The whole set (tests/answers/questions.yml, written apart from the training data) goes through
the one answer policy with the real knowledge base, re-ranker and confidence model, drafts off
(the default). Floors sit a little under what was measured, so that a change which makes the
answers worse fails here; the ceiling on false replies is the issue's goal.
"""

import pytest

from bot.evaluation.answer_set import load, problems
from bot.evaluation.answers_report import run_policy, score
from bot.settings import get_settings

# Reached on 2026-12-01 (reports/answers.md): correct 78.3 %, unanswerable refused 90.4 %,
# follow-ups correct 66.7 %, answerable refused 7.4 %.
CORRECT_FLOOR = 0.74
FALSE_CEILING = 0.01  # the goal: at most 1 % of replies state something false
UNANSWERABLE_REFUSED_FLOOR = 0.88
ANSWERABLE_REFUSED_CEILING = 0.10
FOLLOWUP_CORRECT_FLOOR = 0.60


@pytest.fixture(scope="module")
def summary(components):
    items = load()
    return score(items, run_policy(components, items))


def test_the_set_is_sound_and_big_enough():
    items = load()
    assert problems(items, get_settings().articles_dir) == []
    answerable = [i for i in items if i.answerable]
    assert len(answerable) >= 150 and sum(i.type == "followup" for i in answerable) >= 30
    assert sum(not i.answerable for i in items) >= 40


def test_replies_state_the_fact(summary):
    assert summary["correct"] >= CORRECT_FLOOR, summary["correct"]


def test_replies_almost_never_state_something_false(summary):
    assert summary["false"] <= FALSE_CEILING, summary["false_items"]


def test_questions_no_article_answers_are_refused_and_others_are_not(summary):
    assert summary["unanswerable_refused"] >= UNANSWERABLE_REFUSED_FLOOR, summary["unanswerable_refused"]
    assert summary["refused"] <= ANSWERABLE_REFUSED_CEILING, summary["refused"]


def test_follow_ups_are_answered_in_context(summary):
    assert summary["by_type"]["followup"]["correct"] >= FOLLOWUP_CORRECT_FLOOR, summary["by_type"]["followup"]
