"""Help-centre articles (Markdown with YAML front matter) and the passages they split into."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List

import yaml

REQUIRED = ("id", "title", "url", "category", "updated")
# Bumped whenever split_passages changes: the index then re-embeds every article.
SPLIT_VERSION = 2


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
    text: str

    @property
    def context(self) -> str:
        """What is embedded and indexed: the article title and heading give the section context."""
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


def _chunks(text: str, max_words: int) -> List[str]:
    """Splits a long section at paragraph breaks into pieces of at most about max_words."""
    pieces, current, words = [], [], 0
    for paragraph in [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]:
        n = len(paragraph.split())
        if current and words + n > max_words:
            pieces.append("\n\n".join(current))
            current, words = [], 0
        current.append(paragraph)
        words += n
    if current:
        pieces.append("\n\n".join(current))
    return pieces


def split_passages(article: Article, max_words: int = 160) -> List[Passage]:
    """One passage per '## ' section (the intro joins the first), long sections split further."""
    sections = re.split(r"^##\s+(.+?)\s*$", article.body, flags=re.M)
    intro = sections[0].strip()
    pairs = list(zip(sections[1::2], sections[2::2]))
    if not pairs:
        pairs = [("", intro)]
    elif intro:
        # The intro joins the first section: alone it is a summary that rarely answers anything.
        pairs[0] = (pairs[0][0], f"{intro}\n\n{pairs[0][1].strip()}")
    passages: List[Passage] = []
    for heading, text in pairs:
        for chunk in _chunks(text.strip(), max_words):
            passages.append(
                Passage(
                    passage_id=f"{article.id}#{len(passages)}",
                    article_id=article.id,
                    title=article.title,
                    url=article.url,
                    heading=heading.strip(),
                    text=chunk,
                )
            )
    return passages
