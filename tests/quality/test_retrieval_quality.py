"""Search quality on our question set must not drop below what we reached (reports/retrieval.md)."""


import pytest

from bot.evaluation.retrieval_report import evaluate
from bot.retrieval.index import build_index, load_index
from bot.retrieval.search import Retriever
from bot.settings import get_settings

# Reached on 2026-11-23 (reports/retrieval.md); a change that lowers them fails here.
FLOORS = {
    "dense": {"recall@1": 0.745, "recall@5": 0.965, "mrr": 0.835},
    "bm25": {"recall@5": 0.845},
    "hybrid": {"recall@5": 0.965},
}
# The cosine threshold is only the fallback without a confidence model (bot/answering/confidence.py,
# whose floors are in test_answers_quality.py); on answer units it reached 0.70 and 0.886.
UNANSWERABLE_REFUSED_FLOOR = 0.68
ANSWERABLE_ANSWERED_FLOOR = 0.86


@pytest.fixture(scope="module")
def summary(tmp_path_factory, embedder):
    settings = get_settings()
    out = tmp_path_factory.mktemp("kb")
    build_index(settings.articles_dir, out, embedder, progress=False)
    kb = load_index(out, embedder.name, embedder.dim, settings.articles_dir)
    retriever = Retriever(kb, embedder, settings.kb_search_mode, settings.kb_threshold)
    return evaluate(retriever)


@pytest.mark.parametrize("mode", sorted(FLOORS))
def test_recall_and_mrr_do_not_drop(summary, mode):
    reached = summary["modes"][mode]
    for metric, floor in FLOORS[mode].items():
        assert reached[metric] >= floor, f"{mode} {metric} {reached[metric]:.3f} < {floor}"


def test_the_threshold_refuses_unanswerable_questions(summary):
    at = summary["at_threshold"]
    assert at["unanswerable_refused"] >= UNANSWERABLE_REFUSED_FLOOR, at
    assert at["answerable_kept"] >= ANSWERABLE_ANSWERED_FLOOR, at


def test_the_question_set_is_big_enough():
    from bot.evaluation.retrieval_report import load_questions

    answerable, unanswerable = load_questions()
    assert len(answerable) >= 150 and len(unanswerable) >= 30
