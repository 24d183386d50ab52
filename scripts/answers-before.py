"""The "before" rows of reports/answers.md: the answer set through the code as it was on commit
bfc92b2 (section passages, dense search, cosine threshold, extractive reply), drafts off.

It imports that commit's code, so run it from a checkout of it, with this tree's answer set:

    git worktree add /tmp/before bfc92b2
    cd /tmp/before && BOT_MODELS_DIR=/tmp/before/models BOT_GENERATOR=off PYTHONPATH=/tmp/before \
        ../main/.venv/actions/bin/python -m bot kb build
    cd /tmp/before && BOT_MODELS_DIR=/tmp/before/models BOT_GENERATOR=off PYTHONPATH=/tmp/before \
        ../main/.venv/actions/bin/python ../main/scripts/answers-before.py ../main
"""

import json
import sys
import time
from pathlib import Path

main = Path(sys.argv[1]).resolve()
import importlib.util  # noqa: E402

from bot import services  # noqa: E402  (the old code)

# This tree's answer-set loader, by file: the `bot` package here is the old one.
spec = importlib.util.spec_from_file_location("answer_set", main / "bot" / "evaluation" / "answer_set.py")
answer_set = importlib.util.module_from_spec(spec)
sys.modules["answer_set"] = answer_set
spec.loader.exec_module(answer_set)
load = answer_set.load

items = load(main / "tests" / "answers" / "questions.yml")
outputs = []
for item in items:
    started = time.perf_counter()
    answer = services.answer(item.q, {}, item.q, [])
    outputs.append({"id": item.id, "text": answer.text, "kind": answer.kind,
                    "seconds": time.perf_counter() - started})
retriever = services.get_retriever()
r1 = rr = 0
plain = [i for i in items if i.answerable and i.type != "followup"]
for item in plain:
    ranking = [a for a, _ in retriever.article_ranking(item.q, k=20)]
    first = next((r for r, a in enumerate(ranking, start=1) if a in item.articles), None)
    r1 += first == 1
    rr += 1 / first if first else 0
search = {"sections, dense (bfc92b2)": {"n": len(plain), "recall@1": r1 / len(plain), "mrr": rr / len(plain),
                                        "best_unit_correct": None}}
out = {"commit": "bfc92b2", "outputs": {"extractive (bfc92b2)": outputs}, "search": search}
(main / "reports" / "answers_before.json").write_text(json.dumps(out, indent=2))
print(search)
