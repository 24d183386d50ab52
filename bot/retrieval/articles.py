"""Help-centre articles (Markdown with YAML front matter) and the passages they split into.

A passage is an answer unit: a table row, a list item, a numbered step or a paragraph, small enough
that the best one is the answer itself, and indexed with its article title and section heading.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import yaml

REQUIRED = ("id", "title", "url", "category", "updated")
# Bumped whenever split_passages changes: the index then re-embeds every article.
SPLIT_VERSION = 5


class ArticleError(ValueError):
    """An article file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    url: str
    category: str
    updated: str
    body: str
    content_hash: str  # sha256 of the file: unchanged articles are not re-embedded


@dataclass(frozen=True)
class Passage:
    passage_id: str  # "<article id>#<n>"
    article_id: str
    title: str
    url: str
    heading: str
    text: str  # the answer unit: a table row, a list item, a step or a paragraph
    kind: str = "paragraph"  # row, item, step or paragraph
    section: str = ""  # the whole section the unit comes from (what a drafter reads)

    @property
    def context(self) -> str:
        """What is embedded and indexed: the article title and heading give the unit its context."""
        heading = f" - {self.heading}" if self.heading else ""
        return f"{self.title}{heading}\n{self.text}"


_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.S)


def parse_article(path: Path) -> Article:
    raw = path.read_bytes()
    match = _FRONT.match(raw.decode("utf-8"))
    if not match:
        raise ArticleError(f"{path}: no YAML front matter between '---' lines")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as e:
        raise ArticleError(f"{path}: front matter is not valid YAML ({e})") from None
    missing = [k for k in REQUIRED if not meta.get(k)]
    if missing:
        raise ArticleError(f"{path}: front matter lacks {', '.join(missing)}")
    return Article(
        id=str(meta["id"]),
        title=str(meta["title"]),
        url=str(meta["url"]),
        category=str(meta["category"]),
        updated=str(meta["updated"]),
        body=match.group(2).strip(),
        content_hash=hashlib.sha256(raw).hexdigest(),
    )


def load_articles(directory: Path) -> List[Article]:
    """All articles under `directory`, sorted by id; ids must be unique."""
    articles = [parse_article(p) for p in sorted(Path(directory).glob("*.md"))]
    if not articles:
        raise ArticleError(f"{directory}: no articles (*.md) found")
    seen = {}
    for article in articles:
        if article.id in seen:
            raise ArticleError(f"article id {article.id!r} is used twice")
        seen[article.id] = article
    return sorted(articles, key=lambda a: a.id)


def sections(article: Article) -> List[Tuple[str, str]]:
    """(heading, text) of each '## ' section; the intro, if any, is a section without a heading."""
    parts = re.split(r"^##\s+(.+?)\s*$", article.body, flags=re.M)
    pairs = [("", parts[0].strip())] if parts[0].strip() else []
    pairs += [(h.strip(), t.strip()) for h, t in zip(parts[1::2], parts[2::2]) if t.strip()]
    return pairs


def _cells(line: str) -> List[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def table_row_text(header: List[str], cells: List[str]) -> str:
    """A table row as a sentence-like line: 'PayPal: 3–5 business days' (two columns) or
    'Canada: Standard 5–8 business days, CA$12.95; Express 2–4 business days, CA$29.95; ...'."""
    if len(cells) == 2:
        return f"{cells[0]}: {cells[1]}"
    rest = [f"{h}: {c}" if h else c for h, c in zip(header[1:], cells[1:]) if c and c not in "–-"]
    return f"{cells[0]}: " + "; ".join(rest)


def _sentence_groups(paragraph: str, max_words: int) -> List[str]:
    """A paragraph, or runs of its sentences of at most about max_words when it is longer."""
    if len(paragraph.split()) <= max_words:
        return [paragraph]
    groups, current = [], []
    for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(])", paragraph):
        if current and len(" ".join(current + [sentence]).split()) > max_words:
            groups.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        groups.append(" ".join(current))
    return groups


def answer_units(text: str, max_words: int = 60, heading: str = "") -> List[Tuple[str, str]]:
    """(kind, text) of the smallest pieces of a section that still answer a question by themselves:
    a table row ("row", with its column headings), a bullet ("item", after the line that leads
    into its list, or else after the section heading when the item is a bare phrase: "Where
    next-day is not available: Alaska, Hawaii ..."), a numbered step ("step"), or a paragraph
    ("paragraph", long ones cut into runs of sentences)."""
    units: List[Tuple[str, str]] = []
    header: Optional[List[str]] = None
    paragraph: List[str] = []
    lead = ""  # the line that introduces the list being read ("... to:"), if any

    def end_paragraph() -> None:
        nonlocal lead
        if paragraph:
            text = " ".join(paragraph)
            lead = text if text.endswith(":") and len(text.split()) <= 25 else ""
            units.extend(("paragraph", g) for g in _sentence_groups(text, max_words))
            paragraph.clear()

    for raw in text.replace("**", "").splitlines():
        line = raw.strip()
        if not line.startswith("|"):
            header = None
        if not line:
            end_paragraph()
        elif line.startswith("|"):
            end_paragraph()
            if set(line) <= set("|-: "):
                continue
            lead = ""  # a table ends the list a lead-in introduced
            if header is None:
                header = _cells(line)
            else:
                units.append(("row", table_row_text(header, _cells(line))))
        elif re.match(r"^[-*]\s+", line):
            end_paragraph()
            item = re.sub(r"^[-*]\s+", "", line)
            if lead:
                item = f"{lead} {item}"
            elif heading and ":" not in item:
                item = f"{heading}: {item}"
            units.append(("item", item))
        elif re.match(r"^\d+\.\s+", line):
            end_paragraph()
            lead = ""
            units.append(("step", re.sub(r"^\d+\.\s+", "", line)))
        else:
            if paragraph == [] and units and units[-1][0] != "paragraph":
                lead = ""  # a new paragraph after a list ends that list
            paragraph.append(line)
    end_paragraph()
    return units


def split_passages(article: Article, max_words: int = 60) -> List[Passage]:
    """The article's answer units (see answer_units), each with its section for context."""
    passages: List[Passage] = []
    for heading, text in sections(article):
        for kind, unit in answer_units(text, max_words, heading):
            passages.append(
                Passage(
                    passage_id=f"{article.id}#{len(passages)}",
                    article_id=article.id,
                    title=article.title,
                    url=article.url,
                    heading=heading,
                    text=unit,
                    kind=kind,
                    section=text,
                )
            )
    return passages
