"""A development check of the reply's composition on training questions, never the held-out set.

    python -m bot.evaluation.answers_dev [--grid 0,1 0.04,2 0.06,2 0.08,2 0.06,3]

The questions are the "calibrate" split of the drafter's written examples (data/generator/): the
re-ranker never trained on them. Each has a written answer, not regex facts, so a reply is scored
by what it shares with that answer:

    numbers   every number of the written answer is in the reply
    recall    the share of the written answer's key words (stemmed) in the reply
    covered   numbers and recall >= 0.6 both: the proxy for "states the answer"
    words     the reply's length (the customer reads it; shorter is better at equal cover)

Used to choose how the extractive reply is composed (bot/answer.py extractive_body) without
looking at tests/answers/.
"""

from __future__ import annotations

import argparse
import re
import statistics
from pathlib import Path
from typing import Dict, List

from bot.settings import ROOT

NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


def score(reply: str, answer: str) -> Dict[str, float]:
    from bot.answering.confidence import key_words

    answer_text = re.sub(r"\[[a-z0-9-]+\]", "", answer)
    numbers = set(NUMBER.findall(answer_text))
    reply_numbers = set(NUMBER.findall(reply))
    words = set(key_words(answer_text))
    recall = len(words & set(key_words(reply))) / len(words) if words else 1.0
    has_numbers = numbers <= reply_numbers
    return {"numbers": float(has_numbers), "recall": recall,
            "covered": float(has_numbers and recall >= 0.6), "words": float(len(reply.split()))}


def run(components, examples: List[dict], **choose) -> Dict[str, float]:
    """`choose`: bot/answer.py quoted_hits' settings (within, max_units); none: the defaults."""
    from bot.answer import extractive_answer
    from bot.answering import policy
    from bot.answering.followup import previous_question

    rows = []
    for example in examples:
        searched = policy.search(components, example["question"], previous_question(example))
        if not searched.answers:
            rows.append({"numbers": 0.0, "recall": 0.0, "covered": 0.0, "words": 0.0, "refused": 1.0})
            continue
        body = extractive_answer(searched.result, **choose).text.split("\nMore in our help centre:")[0]
        rows.append({**score(body, example["answer"]), "refused": 0.0})
    answered = [r for r in rows if not r["refused"]]
    return {
        "n": len(rows),
        "refused": statistics.mean(r["refused"] for r in rows),
        "covered": statistics.mean(r["covered"] for r in rows),
        "numbers": statistics.mean(r["numbers"] for r in rows),
        "recall": statistics.mean(r["recall"] for r in rows),
        "words_answered": statistics.mean(r["words"] for r in answered) if answered else 0.0,
    }


def main(argv=None) -> None:
    from bot.answering.policy import Components
    from bot.generation.dataset import TRAIN_DIR, read_written
    from bot.retrieval.rerank_train import split_of
    from bot.services import get_confidence, get_retriever

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", nargs="*", default=[],
                        help="settings to try, as within,max_units (e.g. 0.04,2 0.06,2 0.06,3)")
    args = parser.parse_args(argv)
    examples = [w for w in read_written(Path(ROOT) / TRAIN_DIR)
                if split_of(w["id"]) == "calibrate" and w.get("article")]
    components = Components(get_retriever(), get_confidence())
    print(f"{len(examples)} answerable calibrate-split questions")
    print("setting | refused | covered | numbers | recall | words")
    settings = [{}]
    for spec in args.grid:
        within, units = spec.split(",")
        settings.append({"within": float(within), "max_units": int(units)})
    for compose in settings:
        r = run(components, examples, **compose)
        print(f"{compose or 'default'} | {r['refused']:.3f} | {r['covered']:.3f} | {r['numbers']:.3f} | "
              f"{r['recall']:.3f} | {r['words_answered']:.1f}")


if __name__ == "__main__":
    main()
