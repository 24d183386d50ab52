"""What the drafter reads, and the one refusal it may give.

A prompt is the model's chat template over: a short instruction (system), up to two recent turns,
then one user message with the passages and the question. Each passage is headed by its article
id in square brackets, the form the answer cites it in:

    Passages:
    [return-policy] Return policy - How long you have
    You can return most items within 30 days ...

    Question: how long have i got to send back a lamp

Passages are cut to their sentences closest to the question (`max_passage_chars`), so a prompt
stays short: on a CPU every prompt token costs time before the first word appears.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from bot.answer import NO_ANSWER, answer_from_passage

SYSTEM = (
    "You are Larkspur's support assistant. Answer in one to three short sentences using only "
    "facts from the passages, citing the article as [article-id]. If the passages do not answer "
    "the question, say: " + NO_ANSWER.split(",")[0] + "."
)
REFUSAL = NO_ANSWER  # the drafter's "the passages don't say": the bot then offers a person
CITATION = re.compile(r"\[([a-z0-9][a-z0-9-]*)\]")
MAX_HISTORY_TURNS = 2
MAX_TURN_CHARS = 300
MAX_PASSAGE_CHARS = 400  # a passage is cut to its sentences closest to the question, to this


@dataclass(frozen=True)
class Context:
    """One passage as the drafter sees it."""

    article_id: str
    title: str
    heading: str
    text: str  # possibly cut to the sentences closest to the question

    def render(self) -> str:
        heading = f" - {self.heading}" if self.heading else ""
        return f"[{self.article_id}] {self.title}{heading}\n{self.text}"


@dataclass(frozen=True)
class Turn:
    user: str
    bot: str


def build_contexts(
    hits: Sequence,
    question_vector: np.ndarray,
    embed: Callable[[Sequence[str]], np.ndarray],
    max_passage_chars: int = MAX_PASSAGE_CHARS,
) -> List[Context]:
    """Contexts for search hits (bot.retrieval.search.Hit): the section each answer unit comes
    from (once per section), cut to `max_passage_chars` around what is closest to the question."""
    contexts, seen = [], set()
    for h in hits:
        key = (h.article_id, h.passage.heading)
        if key in seen:
            continue
        seen.add(key)
        contexts.append(Context(
            h.article_id, h.passage.title, h.passage.heading,
            answer_from_passage(h.passage.section or h.passage.text, question_vector, embed,
                                max_chars=max_passage_chars),
        ))
    return contexts


def messages(question: str, contexts: Sequence[Context], history: Sequence[Turn] = ()) -> List[dict]:
    """The chat messages of a prompt (without the answer)."""
    chat = [{"role": "system", "content": SYSTEM}]
    for turn in list(history)[-MAX_HISTORY_TURNS:]:
        chat.append({"role": "user", "content": turn.user[:MAX_TURN_CHARS]})
        chat.append({"role": "assistant", "content": turn.bot[:MAX_TURN_CHARS]})
    passages = "\n\n".join(c.render() for c in contexts)
    chat.append({"role": "user", "content": f"Passages:\n{passages}\n\nQuestion: {question}"})
    return chat


def render(tokenizer, question: str, contexts: Sequence[Context], history: Sequence[Turn] = ()) -> str:
    """The prompt text, ending where the assistant's answer begins."""
    return tokenizer.apply_chat_template(
        messages(question, contexts, history), tokenize=False, add_generation_prompt=True
    )


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


# The refusal's clauses. A small model sometimes gives only part of the refusal, or glues it to a
# word of an answer ("Yes, I'd rather not guess. Would you like me to connect you ..."); that is
# still a refusal, and must be treated as one rather than checked as an answer.
REFUSAL_CLAUSES = ("i couldn't find that", "i'd rather not guess", "connect you with a person")


def is_refusal(draft: str) -> bool:
    """Whether a draft refuses: it says any clause of the refusal (the rest may be cut off)."""
    text = " ".join(draft.lower().replace("’", "'").split())
    return any(clause in text for clause in REFUSAL_CLAUSES)


def citations(draft: str) -> List[str]:
    return CITATION.findall(draft)


def split_citations(draft: str) -> Tuple[str, List[str]]:
    """(the draft without its citations, the cited article ids in order)."""
    return " ".join(CITATION.sub("", draft).split()).replace(" .", "."), citations(draft)


def history_from_pairs(pairs: Optional[Sequence[dict]]) -> List[Turn]:
    return [Turn(p.get("user", ""), p.get("bot", "")) for p in (pairs or [])]


def turns_from_events(events: Sequence[dict], limit: int = MAX_HISTORY_TURNS) -> List[Turn]:
    """The last `limit` completed turns before the current message, from Rasa tracker events."""
    turns: List[Turn] = []
    user, bot = None, []
    for event in events:
        if event.get("event") == "user":
            if user is not None:
                turns.append(Turn(user, " ".join(bot)))
            user, bot = event.get("text") or "", []
        elif event.get("event") == "bot" and user is not None and event.get("text"):
            bot.append(event["text"])
    return turns[-limit:] if limit else []  # the open turn (the current message) is left out
