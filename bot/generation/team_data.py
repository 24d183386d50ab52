"""What the support team taught the bot, as drafter training examples with their provenance.

    examples = team_examples(sessions, heldout=heldout_questions(ROOT))
    current_data_hash(ROOT / TRAIN_DIR, examples)     # what a run's manifest must say

Two sources in the conversation log:

- approved corrections (`approved_answers`, written in the desk): the agent's canonical question
  and answer, with the article it comes from. A "the help centre has no article on this" one is
  an unanswerable question: from the passages, the honest reply is the refusal;
- agents' edited suggestions (`agent_messages` with used = "edited"): the customer's question,
  the reply the agent sent after correcting the desk's suggestion, and the suggestion's first
  article.

They go through `dataset.build` like the written examples, so one whose facts the retrieved
passages do not carry is trained as a refusal, never as an answer to make up. Questions that
appear in a held-out set (tests/**.yml) are left out, so the evaluations stay untouched.

The examples are read in id order and hashed with the written ones: a run whose manifest has a
different hash was trained before the team's latest corrections (`runs.freshness`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

import yaml

from bot.generation.dataset import data_hash

# Where a citation already closes an answer: "... within 30 days [start-a-return]."
_CITED = re.compile(r"\[[a-z0-9-]+\]\s*\.?\s*$")
_WORD = re.compile(r"[a-z0-9$%£€.]+")


def normalise(question: str) -> str:
    """Lowercase words only: "Can I pay cash?" and "can i pay cash" are the same question."""
    return " ".join(_WORD.findall(question.lower().replace("’", "'"))).strip(" .")


def heldout_questions(root: Path) -> Set[str]:
    """Every string in the held-out YAML files under tests/, normalised: a correction that copies
    one of them is not trained on. Cheap (no model), so the data hash can use it at start-up."""
    found: Set[str] = set()

    def walk(value) -> None:
        if isinstance(value, str):
            if len(value) >= 8:
                found.add(normalise(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in sorted((root / "tests").rglob("*.yml")):
        try:
            walk(yaml.safe_load(path.read_text()))
        except yaml.YAMLError:
            continue
    return found


def _cited(answer: str, article: Optional[str]) -> str:
    """The written examples end with their article in brackets; the team's get the same form."""
    answer = " ".join(answer.split())
    if article is None or _CITED.search(answer):
        return answer
    return f"{answer.rstrip()} [{article}]"


def team_examples(sessions, heldout: Iterable[str] = (),
                  known_articles: Optional[Set[str]] = None) -> List[dict]:
    """The team's examples, in the written examples' form plus a `provenance` entry."""
    from sqlalchemy import select

    from bot.storage.models import AgentMessage, ApprovedAnswer

    heldout = set(heldout)
    examples: List[dict] = []
    seen: Set[str] = set()

    def add(example: dict) -> None:
        key = normalise(example["question"])
        if not key or key in heldout or key in seen:
            return
        seen.add(key)
        examples.append(example)

    with sessions() as session:
        corrections = session.scalars(
            select(ApprovedAnswer).where(ApprovedAnswer.status == "approved")
            .order_by(ApprovedAnswer.id)
        ).all()
        for row in corrections:
            article = None if row.kb_missing else row.article_id
            if article is not None and known_articles is not None and article not in known_articles:
                continue
            add({
                "id": f"correction-{row.id}",
                "question": row.question,
                "article": article,
                "answer": _cited(row.answer, article) if article else None,
                "provenance": {"source": "correction", "approved_answer_id": row.id,
                               "kb_missing": bool(row.kb_missing), "agent_id": row.created_by,
                               "approved_at": row.created_at.isoformat(timespec="seconds")},
            })
        edits = session.scalars(
            select(AgentMessage).where(AgentMessage.used == "edited")
            .order_by(AgentMessage.id)
        ).all()
        for row in edits:
            article = _first_article(row.suggested_sources, known_articles)
            if not row.question or article is None:
                continue  # nothing to ground the reply in: not a drafter example
            add({
                "id": f"agent-edit-{row.id}",
                "question": row.question,
                "article": article,
                "answer": _cited(row.sent_text, article),
                "provenance": {"source": "agent_edit", "agent_message_id": row.id,
                               "agent_id": row.agent_id,
                               "sent_at": row.created_at.isoformat(timespec="seconds")},
            })
    return examples


def _first_article(sources, known_articles: Optional[Set[str]]) -> Optional[str]:
    for source in sources or []:
        article = source.get("article_id") if isinstance(source, dict) else None
        if article and (known_articles is None or article in known_articles):
            return article
    return None


def current_data_hash(train_dir: Path, team: List[dict]) -> str:
    """The written examples' hash, extended by the team's examples when there are any (so a run
    trained before the first correction keeps its hash)."""
    written = data_hash(train_dir)
    if not team:
        return written
    body = json.dumps([{k: e[k] for k in ("id", "question", "article", "answer")} for e in team],
                      sort_keys=True)
    return hashlib.sha256(f"{written}\n{body}".encode()).hexdigest()[:16]


def summary(team: List[dict]) -> Dict[str, int]:
    counts: Dict[str, int] = {"correction": 0, "agent_edit": 0}
    for example in team:
        counts[example["provenance"]["source"]] += 1
    return counts


def load(settings) -> List[dict]:
    """The team's examples from the settings' conversation log; none when the log has no tables
    yet (a bot that never ran) or cannot be read (said in the log: the hash is then the
    written examples' alone)."""
    import logging

    from sqlalchemy.exc import SQLAlchemyError

    from bot.retrieval.articles import load_articles
    from bot.storage.db import session_factory

    sessions = session_factory(settings.log_url)
    try:
        known = {a.id for a in load_articles(settings.articles_dir)}
        return team_examples(sessions, heldout_questions(settings.root), known)
    except SQLAlchemyError as e:
        logging.getLogger(__name__).warning("generator.team_data.unreadable %s",
                                            type(e).__name__)
        return []
    finally:
        sessions.kw["bind"].dispose()
