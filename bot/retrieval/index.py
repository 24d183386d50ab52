"""Builds, saves and loads the knowledge-base index: passages, their embeddings and a FAISS index.

On disk (models/kb/ by default):
  manifest.json   what built it: embedding model, dimension, passage count, per-article content
                  hashes, index type, FAISS version, build time. Checked at load.
  passages.jsonl  one passage a line, in index order
  vectors.npy     the normalised embeddings, in index order (reused for unchanged articles)
  index.faiss     the FAISS index (saved from the CPU; moved to the GPU at load when there is one)

Index type, chosen by size unless configured: exact inner product (`flat`) for small knowledge
bases, HNSW from 20,000 passages, IVF from 500,000.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from bot.retrieval.articles import SPLIT_VERSION, Article, Passage, load_articles, split_passages

FORMAT_VERSION = 1
HNSW_FROM = 20_000
IVF_FROM = 500_000

logger = logging.getLogger(__name__)


class ManifestError(RuntimeError):
    """The index on disk does not match what it is loaded for; the message says how to fix it."""


@dataclass
class BuildReport:
    passages: int
    articles: int
    embedded_articles: int  # articles whose passages were (re-)embedded
    reused_articles: int  # unchanged articles whose vectors were reused
    index_type: str
    seconds: float


def choose_index_type(n: int, configured: str = "auto") -> str:
    if configured != "auto":
        return configured
    if n >= IVF_FROM:
        return "ivf"
    if n >= HNSW_FROM:
        return "hnsw"
    return "flat"


def make_faiss_index(vectors: np.ndarray, index_type: str):
    """A CPU FAISS inner-product index over `vectors` (normalised, so scores are cosines)."""
    import faiss

    n, dim = vectors.shape
    if index_type == "flat":
        index = faiss.IndexFlatIP(dim)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    elif index_type == "ivf":
        # about 4 sqrt(n) lists, but at least 39 training points per list (FAISS warns below that)
        nlist = max(1, min(int(4 * np.sqrt(n)), n // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = max(1, nlist // 32)
    else:
        raise ValueError(f"unknown index type {index_type!r} (flat, hnsw, ivf or auto)")
    index.add(vectors)
    return index


def to_best_device(index):
    """Moves a CPU index to all GPUs when FAISS sees one; says which in the log."""
    import faiss

    gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    if gpus > 0 and hasattr(faiss, "index_cpu_to_all_gpus"):
        try:
            index = faiss.index_cpu_to_all_gpus(index)
            logger.info("kb.index_device device=gpu gpus=%d", gpus)
            return index, "gpu"
        except Exception as e:  # some index types have no GPU version: the CPU path always works
            logger.warning("kb.index_gpu_failed error=%s; using the CPU", e)
    logger.info("kb.index_device device=cpu")
    return index, "cpu"


@dataclass
class KnowledgeIndex:
    passages: List[Passage]
    vectors: np.ndarray
    index: object  # a FAISS index
    manifest: Dict
    device: str = "cpu"

    def search(self, query_vectors: np.ndarray, k: int):
        """(scores, positions) for a batch of normalised query vectors."""
        k = min(k, len(self.passages))
        return self.index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)


def _read_previous(out_dir: Path, model: str, dim: int):
    """Vectors of the previous build, by article id and content hash, if it used the same model."""
    manifest_path = out_dir / "manifest.json"
    if not manifest_path.exists():
        return {}
    try:
        manifest = json.loads(manifest_path.read_text())
        if (
            manifest.get("embedding_model") != model
            or manifest.get("dim") != dim
            or manifest.get("split_version") != SPLIT_VERSION
        ):
            return {}
        passages = [json.loads(line) for line in (out_dir / "passages.jsonl").read_text().splitlines()]
        vectors = np.load(out_dir / "vectors.npy")
    except (OSError, ValueError, KeyError):
        return {}
    by_article: Dict[str, List[int]] = {}
    for row, passage in enumerate(passages):
        by_article.setdefault(passage["article_id"], []).append(row)
    hashes = manifest.get("article_hashes", {})
    return {
        (article_id, hashes.get(article_id)): (
            [Passage(**passages[r]) for r in rows],
            vectors[rows],
        )
        for article_id, rows in by_article.items()
    }


def build_index(
    articles_dir: Path,
    out_dir: Path,
    embedder,
    index_type: str = "auto",
    progress: bool = True,
) -> BuildReport:
    """Splits, embeds (only new or changed articles) and indexes the articles; writes out_dir."""
    started = time.monotonic()
    articles: List[Article] = load_articles(articles_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = _read_previous(out_dir, embedder.name, embedder.dim)

    # Per article: its cached passages and vectors when unchanged, else fresh passages to embed.
    plan = []
    for article in articles:
        cached = previous.get((article.id, article.content_hash))
        plan.append(cached if cached is not None else (split_passages(article), None))
    todo = [p for article_passages, vecs in plan if vecs is None for p in article_passages]
    fresh = embedder.encode([p.context for p in todo], progress=progress) if todo else None

    passages: List[Passage] = []
    vector_parts: List[np.ndarray] = []
    offset = 0
    for article_passages, vecs in plan:
        if vecs is None:
            vecs = fresh[offset : offset + len(article_passages)]
            offset += len(article_passages)
        passages.extend(article_passages)
        vector_parts.append(vecs)
    reused = sum(1 for _, vecs in plan if vecs is not None)
    vectors = np.ascontiguousarray(np.concatenate(vector_parts), dtype=np.float32)

    chosen = choose_index_type(len(passages), index_type)
    index = make_faiss_index(vectors, chosen)
    _write(out_dir, articles, passages, vectors, index, embedder, chosen, time.monotonic() - started)
    report = BuildReport(
        passages=len(passages),
        articles=len(articles),
        embedded_articles=len(articles) - reused,
        reused_articles=reused,
        index_type=chosen,
        seconds=time.monotonic() - started,
    )
    logger.info("kb.built %s", dataclasses.asdict(report))
    return report


def _write(out_dir, articles, passages, vectors, index, embedder, index_type, seconds) -> None:
    import faiss

    with open(out_dir / "passages.jsonl", "w") as f:
        for p in passages:
            f.write(json.dumps(dataclasses.asdict(p)) + "\n")
    np.save(out_dir / "vectors.npy", vectors)
    faiss.write_index(index, str(out_dir / "index.faiss"))
    manifest = {
        "format_version": FORMAT_VERSION,
        "embedding_model": embedder.name,
        "dim": int(vectors.shape[1]),
        "normalized": True,
        "split_version": SPLIT_VERSION,
        "passage_count": len(passages),
        "article_count": len(articles),
        "article_hashes": {a.id: a.content_hash for a in articles},
        "index_type": index_type,
        "faiss_version": faiss.__version__,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 2),
    }
    # The manifest is written last: a build that died half-way leaves the old manifest's hashes,
    # which no longer match, so the next load fails loudly instead of serving a mixed index.
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))


def stale_articles(manifest: Dict, articles_dir: Path) -> List[str]:
    """Ids of articles added, removed or changed since the index was built."""
    current = {a.id: a.content_hash for a in load_articles(articles_dir)}
    built = manifest.get("article_hashes", {})
    return sorted(k for k in set(current) | set(built) if current.get(k) != built.get(k))


def load_index(
    index_dir: Path,
    expected_model: str,
    expected_dim: Optional[int] = None,
    articles_dir: Optional[Path] = None,
    use_gpu: bool = True,
) -> KnowledgeIndex:
    """Loads an index and checks its manifest; raises ManifestError with the fix on a mismatch."""
    import faiss

    fix = "rebuild it with `python -m bot kb build`"
    manifest_path = index_dir / "manifest.json"
    if not manifest_path.exists():
        raise ManifestError(f"no knowledge-base index at {index_dir}: {fix}")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ManifestError(
            f"index format {manifest.get('format_version')} is not {FORMAT_VERSION}: {fix}"
        )
    if manifest.get("embedding_model") != expected_model:
        raise ManifestError(
            f"the index was built with embedding model {manifest.get('embedding_model')!r} but "
            f"{expected_model!r} is configured: {fix}"
        )
    if expected_dim is not None and manifest.get("dim") != expected_dim:
        raise ManifestError(
            f"the index has dimension {manifest.get('dim')} but the model gives {expected_dim}: {fix}"
        )
    passages = [
        Passage(**json.loads(line))
        for line in (index_dir / "passages.jsonl").read_text().splitlines()
    ]
    vectors = np.load(index_dir / "vectors.npy")
    index = faiss.read_index(str(index_dir / "index.faiss"))
    counts = {len(passages), len(vectors), index.ntotal}
    if counts != {manifest.get("passage_count")}:
        raise ManifestError(
            f"the index files disagree on the passage count ({sorted(counts)} vs manifest "
            f"{manifest.get('passage_count')}): {fix}"
        )
    if articles_dir is not None:
        stale = stale_articles(manifest, articles_dir)
        if stale:
            shown = ", ".join(stale[:5]) + (" ..." if len(stale) > 5 else "")
            raise ManifestError(f"articles changed since the index was built ({shown}): {fix}")
    device = "cpu"
    if use_gpu:
        index, device = to_best_device(index)
    return KnowledgeIndex(passages, vectors, index, manifest, device)
