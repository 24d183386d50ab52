"""Our answer-correctness set (tests/answers/questions.yml) and how a reply is scored against it.

Each answerable question names the facts its answer must state (each fact a list of alternative
regexes) and the false statements a careless answer would make (regexes). A reply is

    refused   when it says it couldn't find the answer (or could not look it up)
    false     when any false statement matches (a refusal is never false)
    correct   when every fact matches and nothing false does
    missed    otherwise: an answer without the fact (wrong passage, wrong sentence)

Matching is on the reply's body (without the source line) as normalised text: lower case,
dashes as '-', no '**', straight quotes, one space.

    python -m bot.evaluation.answer_set [FILE]    checks the set against the articles

The check: every `must` fact is found in one of the question's articles, and no `false` pattern
matches any line of any article (the articles are true, so a false statement is never in them).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

import yaml

from bot.settings import ROOT

ANSWER_SET = ROOT / "tests" / "answers" / "questions.yml"
OUTCOMES = ("correct", "false", "refused", "missed")


def normalise(text: str) -> str:
    text = text.lower().replace("**", "")
    text = re.sub("[\u2013\u2014\u2212]", "-", text)
    text = text.replace("\u2018", "'").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(text.split())


@dataclass(frozen=True)
class Item:
    id: str
    q: str
    type: str  # fact, yesno, number, compare, followup; "unanswerable"
    articles: List[str] = field(default_factory=list)
    must: List[List[str]] = field(default_factory=list)
    false: List[str] = field(default_factory=list)
    history: Optional[str] = None  # the customer's previous message, for follow-ups

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def load(path: Path = ANSWER_SET) -> List[Item]:
    data = yaml.safe_load(Path(path).read_text())
    items = [
        Item(id=str(a["id"]), q=a["q"], type=a.get("type", "fact"), articles=list(a.get("articles") or []),
             must=[[m] if isinstance(m, str) else list(m) for m in a.get("must") or []],
             false=list(a.get("false", a.get(False)) or []), history=a.get("history"))
        for a in data.get("answerable") or []
    ]
    items += [Item(id=str(u["id"]), q=u["q"], type="unanswerable", history=u.get("history"))
              for u in data["unanswerable"]]
    return items


SOURCE_LINE = re.compile(r"\n(More in our help centre|Sources?): .*$", re.S)


def body(reply: str) -> str:
    """The reply without its source line: an article's title and section heading name where the
    answer comes from, they state nothing ("Welcome and birthday offers > Welcome offer: 10% off"
    is not a claim that the birthday offer is 10 %), so neither facts nor falsehoods count there."""
    return SOURCE_LINE.sub("", reply)


def judge(item: Item, reply: str, refused: bool) -> str:
    """One of OUTCOMES for the reply the customer read (its body: see body())."""
    if refused:
        return "refused"
    text = normalise(body(reply))
    if any(re.search(p, text) for p in item.false):
        return "false"
    if item.must and all(any(re.search(p, text) for p in fact) for fact in item.must):
        return "correct"
    return "missed"


def _article_lines(articles_dir: Path):
    from bot.retrieval.articles import load_articles

    return {a.id: [normalise(line) for line in a.body.splitlines() if line.strip()]
            for a in load_articles(articles_dir)}


def problems(items: Sequence[Item], articles_dir: Path) -> List[str]:
    """What is wrong with the set (empty when it can be used)."""
    lines = _article_lines(articles_dir)
    every_line = [line for ls in lines.values() for line in ls]
    found: List[str] = []
    seen = set()
    for item in items:
        if item.id in seen:
            found.append(f"{item.id}: id used twice")
        seen.add(item.id)
        for article in item.articles:
            if article not in lines:
                found.append(f"{item.id}: no article {article!r}")
        if not item.answerable:
            continue
        if not item.must:
            found.append(f"{item.id}: no must facts")
        texts = [normalise(" ".join(lines.get(a, []))) for a in item.articles]
        for fact in item.must:
            if not any(re.search(p, t) for p in fact for t in texts):
                found.append(f"{item.id}: fact {fact} is in none of {item.articles}")
        for pattern in item.false:
            hit = next((line for line in every_line if re.search(pattern, line)), None)
            if hit:
                found.append(f"{item.id}: false pattern {pattern!r} matches an article: {hit[:80]}")
    return found


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", type=Path, default=ANSWER_SET)
    args = parser.parse_args(argv)
    from collections import Counter

    from bot.settings import get_settings

    items = load(args.file)
    found = problems(items, get_settings().articles_dir)
    for line in found:
        print(line)
    print(f"{len(items)} items {dict(Counter(i.type for i in items))}; {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
