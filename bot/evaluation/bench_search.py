"""How fast is top-10 vector search over the knowledge base, and how does it grow with the collection?

    .venv/actions/bin/python -m bot.evaluation.bench_search            # full run, 3-5 minutes
    .venv/actions/bin/python -m bot.evaluation.bench_search --quick    # tiny run (tests)
    .venv/actions/bin/python -m bot.evaluation.bench_search --sizes 10000,100000 --batches 1,32

Synthetic 384-d unit vectors (the size of all-MiniLM-L6-v2 embeddings) stand in for passages.
Exact inner-product search is timed side by side in one process with FAISS IndexFlatIP, NumPy
(matmul + argpartition) and torch (mm + topk), plus FAISS on the GPU when one is present; NumPy is
the baseline the others are divided by.

Approximate indexes (IVF, HNSW) are measured on a second, clustered data set, because on isotropic
random vectors a query's true top-10 are barely closer than everything else and recall means
nothing: a few thousand cluster centres grouped under topics, points = centre + noise, queries
drawn the same way. Their recall@10 against exact search and their speed at batch 32 are set
beside exact search timed on the same data, and the report says which index reaches recall@10
>= 0.95 soonest and how much faster than exact search it is there. The report (--out) names the
machine, because an absolute time alone means little.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import math
import os
import platform
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import faiss
import numpy as np
import torch

from bot.settings import get_settings

logger = logging.getLogger(__name__)

NUMPY, TORCH, FAISS_CPU, FAISS_GPU = "NumPy matmul+argpartition", "torch mm+topk", "FAISS IndexFlatIP", "FAISS GPU"
BASELINE = NUMPY

# (scores, ids), each (batch, k), best first
SearchFn = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class BenchConfig:
    sizes: Tuple[int, ...] = (10_000, 100_000, 1_000_000)
    batches: Tuple[int, ...] = (1, 32, 1024)
    seed: int = 0
    dim: int = 384
    k: int = 10
    query_pool: int = 2048  # distinct queries; batches cycle through them
    dup_fraction: float = 0.5  # share of queries that are noisy copies of database vectors
    dup_noise: float = 0.3  # noise norm relative to the vector: cosine to its source ~0.96
    # Repetitions: run batches until budget_s is spent (at least min_batches, at most max_batches),
    # but stop early when one more batch would pass cap_s, so that a 30-second batch
    # (N=1M, B=1024) is measured once instead of dominating the run.
    budget_s: float = 2.5
    min_batches: int = 3
    max_batches: int = 200
    cap_s: float = 30.0
    # Score matrices are computed in blocks of database rows so that B x rows floats stay under
    # this (128 MiB): B=1024 against 1M rows would otherwise need a 4 GB matrix.
    score_budget: int = 1 << 25
    bandwidth_bytes: int = 1 << 30
    bandwidth_runs: int = 5
    ann_sizes: Tuple[int, ...] = (100_000, 1_000_000)
    ann_queries: int = 1024
    ann_batch: int = 32
    nprobes: Tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    ef_searches: Tuple[int, ...] = (16, 32, 64, 128, 256)
    hnsw_m: int = 16  # M=32 doubles the build time
    # Larger HNSW builds do not fit the run's time budget on 2 cores: on the clustered set 100k
    # builds in ~9 s, 1M in ~150 s (idle machine), more than the rest of the approximate part.
    hnsw_max_n: int = 100_000
    target_recall: float = 0.95  # "good enough" for the Which-index-when paragraph
    # The clustered set for the approximate indexes. With these values, at 100k, a query's nearest
    # neighbour has cosine ~0.66, its 10th ~0.55, a random vector 0.00 +- 0.10. The knowledge
    # base's own 292 all-MiniLM-L6-v2 passages give 0.75, 0.56 and 0.26 +- 0.16 (the offset is a
    # direction all embeddings share, which moves every score about alike and is left out); the
    # isotropic set of the exact part gives a 10th neighbour of ~0.2 against 0.00 +- 0.05.
    clusters: int = 4096
    topics: int = 128  # clusters are grouped under topics, so neighbouring clusters overlap
    topic_spread: float = 1.0  # noise norm of a centre around its topic: cosine ~0.7 to it
    cluster_noise: float = 1.0  # noise norm of a point around its centre: cosine ~0.7 to it
    # Noise variance falls off as 1/i over the coordinates, so that a few dozen directions carry
    # most of it, as in real embeddings (isotropic noise in 384-d makes a cluster's members all
    # equally far from each other, and the true top-10 a coin toss among them).
    noise_decay: float = 0.5
    cluster_size_sigma: float = 0.5  # lognormal spread of cluster sizes: some topics are popular
    quick: bool = False

    @classmethod
    def tiny(cls) -> "BenchConfig":
        """A run of a few seconds on a seeded 2,000-vector set, for tests."""
        return cls(
            sizes=(2000,), batches=(1, 8), query_pool=64, budget_s=0.05, min_batches=2,
            max_batches=20, cap_s=2.0, bandwidth_bytes=1 << 24, bandwidth_runs=2,
            ann_sizes=(2000,), ann_queries=64, ann_batch=8, nprobes=(1, 4, 16),
            ef_searches=(16, 64), hnsw_m=8, hnsw_max_n=2000, clusters=64, topics=8, quick=True,
        )


# ---------------------------------------------------------------------------------------------
# Data


def _unit_rows(rows: np.ndarray) -> None:
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)


def make_database(n: int, dim: int, seed: int, threads: int = 1) -> np.ndarray:
    """n x dim float32 unit vectors, isotropic Gaussian directions.

    Generated in fixed 65,536-row chunks, each from its own seed, so the first 10,000 rows are the
    same whatever the largest size and however many threads fill them (smaller collections are
    prefixes of the larger one, and queries near-duplicating early rows exist in all of them).
    """
    chunk = 1 << 16
    out = np.empty((n, dim), dtype=np.float32)

    def fill(index: int) -> None:
        view = out[index * chunk : (index + 1) * chunk]
        np.random.default_rng([seed, 0, index]).standard_normal(out=view, dtype=np.float32)
        _unit_rows(view)

    # Filling 1M x 384 normals takes ~9 s on one core; NumPy releases the GIL while it fills.
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(fill, range(math.ceil(n / chunk))))
    return out


def make_queries(
    database: np.ndarray, count: int, dup_fraction: float, noise: float, seed: int, source_limit: int
) -> Tuple[np.ndarray, np.ndarray]:
    """Queries drawn like the database, every other one replaced by a noisy copy of a database row.

    Returns (queries, sources): sources[i] is the copied row, or -1 for a fresh random query.
    Sources are taken from the first ``source_limit`` rows so they exist at every size.
    """
    rng = np.random.default_rng([seed, 1])
    dim = database.shape[1]
    queries = rng.standard_normal((count, dim), dtype=np.float32)
    sources = np.full(count, -1, dtype=np.int64)
    dups = int(round(count * dup_fraction))
    # Interleaved, so that every batch, even of 1 or 32, mixes both kinds.
    positions = np.linspace(1, count - 1, dups).round().astype(np.int64) if dups else np.array([], int)
    positions = np.unique(positions)
    sources[positions] = rng.choice(source_limit, size=len(positions), replace=False)
    queries[positions] = database[sources[positions]] + (
        noise / math.sqrt(dim) * rng.standard_normal((len(positions), dim), dtype=np.float32)
    )
    _unit_rows(queries)
    return queries, sources


@dataclass(frozen=True)
class Clusters:
    centres: np.ndarray  # (clusters, dim) unit vectors
    weights: np.ndarray  # (clusters,) probability that a point or a query comes from each centre
    noise_scales: np.ndarray  # (dim,) standard deviation of the noise along each coordinate


def make_clusters(cfg: BenchConfig) -> Clusters:
    """Seeded cluster centres grouped under topics, uneven cluster sizes, decaying noise spectrum."""
    rng = np.random.default_rng([cfg.seed, 2])
    dim = cfg.dim
    topics = rng.standard_normal((cfg.topics, dim), dtype=np.float32)
    _unit_rows(topics)
    parent = rng.integers(cfg.topics, size=cfg.clusters)
    centres = topics[parent] + cfg.topic_spread / math.sqrt(dim) * rng.standard_normal(
        (cfg.clusters, dim), dtype=np.float32)
    _unit_rows(centres)
    weights = rng.lognormal(0.0, cfg.cluster_size_sigma, cfg.clusters)
    weights /= weights.sum()
    decay = np.arange(1, dim + 1, dtype=np.float64) ** -cfg.noise_decay
    decay *= math.sqrt(dim) / np.linalg.norm(decay)  # so that the noise norm is ~cluster_noise
    return Clusters(centres, weights, (cfg.cluster_noise / math.sqrt(dim) * decay).astype(np.float32))


def make_clustered(clusters: Clusters, n: int, seed: int, stream: int, threads: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """n unit vectors, each a centre (drawn by weight) plus noise, normalised; and their centres' ids.

    Chunked and seeded like make_database, so smaller collections are prefixes of larger ones.
    ``stream`` separates the database (3) from the queries (4).
    """
    chunk = 1 << 16
    dim = clusters.centres.shape[1]
    out = np.empty((n, dim), dtype=np.float32)
    labels = np.empty(n, dtype=np.int64)

    def fill(index: int) -> None:
        rows = slice(index * chunk, min(n, (index + 1) * chunk))
        rng = np.random.default_rng([seed, stream, index])
        # Labels for a whole chunk, then the noise row by row: the draws for a row do not depend on n.
        labels[rows] = rng.choice(len(clusters.weights), size=chunk, p=clusters.weights)[: rows.stop - rows.start]
        view = out[rows]
        rng.standard_normal(out=view, dtype=np.float32)
        view *= clusters.noise_scales
        view += clusters.centres[labels[rows]]
        _unit_rows(view)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(fill, range(math.ceil(n / chunk))))
    return out, labels


# ---------------------------------------------------------------------------------------------
# The machine


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class OtherLoad:
    """How many cores other processes kept busy between start() and cores(), from /proc/stat.

    On a shared 2-core machine this is what most explains odd numbers: a call that uses 2 threads
    waits for a time slice (several ms) whenever another process holds a core.
    """

    def __init__(self) -> None:
        self.start()

    @staticmethod
    def _busy_s() -> Optional[float]:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + fields[4]  # idle + iowait; steal counts as busy: the core was not ours
        return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own_s() -> float:
        times = os.times()
        return times.user + times.system

    def start(self) -> None:
        self._wall, self._busy, self._own = time.perf_counter(), self._busy_s(), self._own_s()

    def cores(self) -> Optional[float]:
        busy = self._busy_s()
        if busy is None or self._busy is None:
            return None
        wall = time.perf_counter() - self._wall
        return max(0.0, (busy - self._busy) - (self._own_s() - self._own)) / wall if wall > 0 else None


def machine_info() -> Dict[str, str]:
    """What the numbers were taken on: CPU, cores, RAM, library versions."""
    cpu, flags, ram = platform.processor() or platform.machine(), set(), "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu in ("", platform.machine(), platform.processor()):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    simd = ", ".join(f for f in ("avx2", "avx512f", "fma") if f in flags) or "unknown"
    blas = "unknown"
    try:
        blas_info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas_info.get('name')} {blas_info.get('version')}"
    except Exception:  # show_config's shape differs between NumPy versions; the name is a nicety
        pass
    gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    return {
        "CPU": cpu,
        "SIMD flags": simd,
        "cores (this process may use)": str(cpu_cores()),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "NumPy": f"{np.__version__} (BLAS: {blas})",
        "torch": f"{torch.__version__}, {torch.get_num_threads()} threads",
        "FAISS": f"{faiss.__version__} ({faiss.get_compile_options().strip()}), "
                 f"{faiss.omp_get_max_threads()} threads, {gpus} GPU(s)",
        "GPU": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }


def measure_bandwidth(nbytes: int, runs: int, threads: int) -> Dict[str, float]:
    """Memory read bandwidth in GB/s: best of ``runs`` sums over an nbytes float32 array.

    Measured with one thread and with ``threads`` threads (NumPy releases the GIL in the sum);
    "best" is the larger of the two, the ceiling any scan of the database can reach.
    """
    data = np.ones(nbytes // 4, dtype=np.float32)  # np.ones writes every page: no first-touch cost
    parts = np.array_split(data, max(1, threads))

    def timed(fn: Callable[[], None]) -> float:
        best = math.inf
        for _ in range(runs):
            started = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - started)
        return data.nbytes / best / 1e9

    def threaded_sum() -> None:
        workers = [threading.Thread(target=np.sum, args=(p,)) for p in parts]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    one = timed(lambda: np.sum(data))
    many = timed(threaded_sum)
    return {"one_thread": one, "all_threads": many, "best": max(one, many), "bytes": float(data.nbytes)}


# ---------------------------------------------------------------------------------------------
# Exact search, three (or four) ways


def block_rows(batch: int, cfg: BenchConfig) -> int:
    return max(cfg.k, cfg.score_budget // max(1, batch))


def numpy_search(database: np.ndarray, queries: np.ndarray, k: int, rows: int) -> Tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product: BLAS matmul per block of rows, argpartition, then sort k."""
    best_s = np.empty((len(queries), 0), dtype=np.float32)
    best_i = np.empty((len(queries), 0), dtype=np.int64)
    for start in range(0, len(database), rows):
        scores = queries @ database[start : start + rows].T
        if scores.shape[1] > k:
            top = np.argpartition(scores, -k, axis=1)[:, -k:]
            scores = np.take_along_axis(scores, top, axis=1)
        else:
            top = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
        cand_s = np.concatenate([best_s, scores], axis=1)
        cand_i = np.concatenate([best_i, top + start], axis=1)
        if cand_s.shape[1] > k:
            keep = np.argpartition(cand_s, -k, axis=1)[:, -k:]
            cand_s, cand_i = np.take_along_axis(cand_s, keep, 1), np.take_along_axis(cand_i, keep, 1)
        best_s, best_i = cand_s, cand_i
    order = np.argsort(-best_s, axis=1, kind="stable")
    return np.take_along_axis(best_s, order, 1), np.take_along_axis(best_i, order, 1)


def torch_search(database: torch.Tensor, queries: np.ndarray, k: int, rows: int) -> Tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product: torch.mm per block of rows, topk, merged with topk."""
    q = torch.from_numpy(queries)
    best_s: Optional[torch.Tensor] = None
    best_i: Optional[torch.Tensor] = None
    with torch.inference_mode():
        for start in range(0, database.shape[0], rows):
            scores = torch.mm(q, database[start : start + rows].T)
            top_s, top_i = torch.topk(scores, min(k, scores.shape[1]), dim=1)
            top_i += start
            if best_s is None:
                best_s, best_i = top_s, top_i
            else:
                cand_s, cand_i = torch.cat([best_s, top_s], 1), torch.cat([best_i, top_i], 1)
                best_s, pos = torch.topk(cand_s, min(k, cand_s.shape[1]), dim=1)
                best_i = torch.gather(cand_i, 1, pos)
    return best_s.numpy(), best_i.numpy()


def faiss_gpu_count() -> int:
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


def exact_methods(database: np.ndarray, cfg: BenchConfig) -> Tuple[Dict[str, SearchFn], List]:
    """The exact searchers over ``database``, by name; and what must be kept alive for them."""
    flat = faiss.IndexFlatIP(database.shape[1])
    flat.add(database)
    db_torch = torch.from_numpy(database)  # shares memory with the NumPy array
    k = cfg.k
    methods: Dict[str, SearchFn] = {
        NUMPY: lambda q: numpy_search(database, q, k, block_rows(len(q), cfg)),
        TORCH: lambda q: torch_search(db_torch, q, k, block_rows(len(q), cfg)),
        FAISS_CPU: lambda q: flat.search(q, k),
    }
    keep = [flat, db_torch]
    if faiss_gpu_count() > 0:
        gpu = faiss.index_cpu_to_all_gpus(flat)
        logger.info("bench.faiss_gpu gpus=%d", faiss_gpu_count())
        methods[FAISS_GPU] = lambda q: gpu.search(q, k)
        keep.append(gpu)
    return methods, keep


@dataclass
class Timing:
    seconds: List[float]
    first_ids: np.ndarray  # ids of the first measured batch: queries[0:B] for every method

    @property
    def p50(self) -> float:
        return float(np.percentile(self.seconds, 50))

    @property
    def p99(self) -> float:
        return float(np.percentile(self.seconds, 99))


def time_batches(search: SearchFn, queries: np.ndarray, batch: int, cfg: BenchConfig) -> Timing:
    """Runs batches of ``batch`` queries until the budget is spent; one warm-up batch first."""
    # The warm-up starts thread pools and BLAS buffers; a batch of 32 exercises the same code
    # (FAISS switches to BLAS at 20 queries) without costing 30 s at N=1M, B=1024.
    search(queries[: min(batch, 32)])
    seconds: List[float] = []
    first_ids = None
    span = len(queries) - batch + 1
    started = time.perf_counter()
    while True:
        offset = (len(seconds) * batch) % span
        t0 = time.perf_counter()
        _, ids = search(queries[offset : offset + batch])
        seconds.append(time.perf_counter() - t0)
        if first_ids is None:
            first_ids = ids
        elapsed, done = time.perf_counter() - started, len(seconds)
        if done >= cfg.max_batches or elapsed + elapsed / done > cfg.cap_s:
            break
        if elapsed >= cfg.budget_s and done >= cfg.min_batches:
            break
    return Timing(seconds, first_ids)


@dataclass
class ExactRow:
    n: int
    method: str
    batch: int
    batches: int = 0
    qps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    bandwidth_fraction: Optional[float] = None  # None: not meaningful (GPU memory) or not run
    note: str = ""


def agreement(database: np.ndarray, queries: np.ndarray, ids_by_method: Dict[str, np.ndarray], k: int,
              tol: float = 1e-5) -> Tuple[Dict[str, Tuple[int, int]], np.ndarray]:
    """Do the methods return the true top-k? Ties allowed.

    The truth is recomputed in float64 over the union of every method's candidates. A method's
    answer counts as right when it equals the true set, or differs only by ids whose true score is
    within ``tol`` of the k-th best (float32 sums in a different order may swap those).
    Returns {method: (identical, right allowing ties)} and the true ids, best first.
    """
    counts = {m: [0, 0] for m in ids_by_method}
    truth = np.empty((len(queries), k), dtype=np.int64)
    for qi, query in enumerate(queries):
        union = np.unique(np.concatenate([ids[qi] for ids in ids_by_method.values()]))
        union = union[union >= 0]
        scores = database[union].astype(np.float64) @ query.astype(np.float64)
        order = np.argsort(-scores, kind="stable")
        truth[qi] = union[order[:k]]
        kth = scores[order[k - 1]]
        score_of = dict(zip(union.tolist(), scores.tolist()))
        true_set = set(truth[qi].tolist())
        for method, ids in ids_by_method.items():
            got = set(ids[qi].tolist())
            if got == true_set:
                counts[method][0] += 1
                counts[method][1] += 1
            elif all(abs(score_of.get(i, -math.inf) - kth) <= tol for i in got ^ true_set):
                counts[method][1] += 1
    return {m: (c[0], c[1]) for m, c in counts.items()}, truth


@dataclass
class ExactResults:
    rows: List[ExactRow] = field(default_factory=list)
    # (n, batch) -> {method: (identical, right allowing ties)}, over queries[0:batch]
    agreement: Dict[Tuple[int, int], Dict[str, Tuple[int, int]]] = field(default_factory=dict)
    truth: Dict[Tuple[int, int], np.ndarray] = field(default_factory=dict)  # true ids of queries[0:batch]
    other_cores: Dict[int, Optional[float]] = field(default_factory=dict)  # n -> cores others kept busy


def run_exact(cfg: BenchConfig, database: np.ndarray, queries: np.ndarray, bandwidth_gbs: float) -> ExactResults:
    results = ExactResults()
    for n in cfg.sizes:
        view = database[:n]
        others = OtherLoad()
        methods, keep = exact_methods(view, cfg)
        first_ids: Dict[int, Dict[str, np.ndarray]] = {b: {} for b in cfg.batches}
        for method, search in methods.items():
            # Other libraries' worker threads spin for a moment after their last call; on 2 cores
            # that would be charged to whoever runs next.
            time.sleep(0.2)
            for batch in cfg.batches:
                timing = time_batches(search, queries, batch, cfg)
                first_ids[batch][method] = timing.first_ids
                per_batch = timing.p50
                on_gpu = method == FAISS_GPU
                row = ExactRow(
                    n, method, batch, len(timing.seconds), batch / float(np.mean(timing.seconds)),
                    timing.p50 * 1e3, timing.p99 * 1e3,
                    None if on_gpu else view.nbytes / per_batch / 1e9 / bandwidth_gbs,
                )
                results.rows.append(row)
                logger.info("bench.exact n=%d method=%r batch=%d batches=%d qps=%.0f p50_ms=%.3f",
                            n, method, batch, row.batches, row.qps, row.p50_ms)
        if FAISS_GPU not in methods:
            for batch in cfg.batches:
                results.rows.append(ExactRow(n, FAISS_GPU, batch, note="not available on this machine"))
        results.other_cores[n] = others.cores()
        for batch in cfg.batches:
            counts, truth = agreement(view, queries[:batch], first_ids[batch], cfg.k)
            results.agreement[(n, batch)] = counts
            results.truth[(n, batch)] = truth
        del methods, keep  # frees the FAISS copy of the vectors before the next size
    return results


# ---------------------------------------------------------------------------------------------
# Approximate indexes


@dataclass
class AnnRow:
    n: int
    index: str
    setting: str
    build_s: Optional[float]
    recall: Optional[float] = None  # share of the exact top-k found; None for exact search itself
    top1_found: Optional[float] = None  # share of queries whose true nearest neighbour is returned
    qps: Optional[float] = None
    note: str = ""
    exact: bool = False


@dataclass
class DataStats:
    """How much a query's true neighbours stand out on the clustered set, at one size."""
    top1_cos: float  # mean cosine of the nearest neighbour
    topk_cos: float  # mean cosine of the k-th nearest
    random_cos: float  # mean cosine of a query to random database vectors
    random_sd: float
    own_cluster: float  # share of the true top-k that come from the query's own cluster


@dataclass
class AnnResults:
    rows: List[AnnRow] = field(default_factory=list)
    data: Dict[int, DataStats] = field(default_factory=dict)
    other_cores: Dict[int, Optional[float]] = field(default_factory=dict)


def ivf_lists(n: int) -> int:
    """Number of IVF lists: the power of two nearest sqrt(n), between 8 and 1024."""
    return int(min(1024, max(8, 2 ** round(math.log2(math.sqrt(n))))))


def _time_ann(index, queries: np.ndarray, truth: np.ndarray, cfg: BenchConfig) -> Tuple[float, float, float]:
    """(recall@k, top-1 found, queries/s) over one pass in batches of cfg.ann_batch."""
    index.search(queries[: cfg.ann_batch], cfg.k)  # warm-up
    found = []
    started = time.perf_counter()
    for start in range(0, len(queries), cfg.ann_batch):
        found.append(index.search(queries[start : start + cfg.ann_batch], cfg.k)[1])
    seconds = time.perf_counter() - started
    ids = np.concatenate(found)
    recall = np.mean([len(set(a.tolist()) & set(b.tolist())) / cfg.k for a, b in zip(ids, truth)])
    top1 = np.mean([t[0] in row for t, row in zip(truth, ids)])
    return float(recall), float(top1), len(queries) / seconds


def run_approximate(cfg: BenchConfig, database: np.ndarray, labels: np.ndarray, queries: np.ndarray,
                    query_labels: np.ndarray) -> AnnResults:
    """IVF and HNSW on the clustered set, beside exact search timed on the same vectors and queries."""
    results = AnnResults()
    hnsw_s_per_vector: Optional[float] = None
    for n in cfg.ann_sizes:
        view = database[:n]
        others = OtherLoad()

        # Exact search on the same data, at the same batch size, under the same load: the baseline.
        methods, keep = exact_methods(view, cfg)
        methods.pop(FAISS_GPU, None)  # the indexes below run on the CPU
        scores, truth = methods[FAISS_CPU](queries)
        sample = queries @ view[: min(n, 2000)].T
        results.data[n] = DataStats(
            float(scores[:, 0].mean()), float(scores[:, cfg.k - 1].mean()), float(sample.mean()),
            float(sample.std()), float(np.mean(labels[truth] == query_labels[:, None])),
        )
        for method, search in methods.items():
            time.sleep(0.2)  # let the previous library's threads go quiet, as in run_exact
            timing = time_batches(search, queries, cfg.ann_batch, cfg)
            qps = cfg.ann_batch / float(np.mean(timing.seconds))
            results.rows.append(AnnRow(n, f"exact: {method}", "—", None, qps=qps, exact=True))
            logger.info("bench.ann_exact n=%d method=%r qps=%.0f", n, method, qps)
        del methods, keep

        nlist = ivf_lists(n)
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(cfg.dim), cfg.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.seed = cfg.seed
        # k-means on 64 points per list (FAISS warns below 39): with its default of 256, training
        # 1,024 lists at 1M would take about a minute on 2 cores, for little gain in the lists.
        ivf.cp.max_points_per_centroid = 64
        started = time.perf_counter()
        ivf.train(view)
        ivf.add(view)
        build = time.perf_counter() - started
        logger.info("bench.ivf_built n=%d nlist=%d seconds=%.1f", n, nlist, build)
        for nprobe in [p for p in cfg.nprobes if p <= nlist]:
            ivf.nprobe = nprobe
            recall, top1, qps = _time_ann(ivf, queries, truth, cfg)
            results.rows.append(AnnRow(n, f"IVFFlat, {nlist} lists", f"nprobe={nprobe}", build, recall, top1, qps))
            logger.info("bench.ivf n=%d nprobe=%d recall=%.3f qps=%.0f", n, nprobe, recall, qps)
        del ivf

        if n > cfg.hnsw_max_n:
            estimate = f" (at least ~{hnsw_s_per_vector * n:.0f} s at the rate measured above)" if hnsw_s_per_vector else ""
            results.rows.append(AnnRow(n, f"HNSWFlat, M={cfg.hnsw_m}", "—", None,
                                       note=f"not built: over the run's time budget{estimate}"))
        else:
            hnsw = faiss.IndexHNSWFlat(cfg.dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            started = time.perf_counter()
            hnsw.add(view)
            build = time.perf_counter() - started
            hnsw_s_per_vector = build / n
            logger.info("bench.hnsw_built n=%d m=%d seconds=%.1f", n, cfg.hnsw_m, build)
            for ef in cfg.ef_searches:
                hnsw.hnsw.efSearch = ef
                recall, top1, qps = _time_ann(hnsw, queries, truth, cfg)
                results.rows.append(AnnRow(n, f"HNSWFlat, M={cfg.hnsw_m}", f"efSearch={ef}", build, recall, top1, qps))
                logger.info("bench.hnsw n=%d ef=%d recall=%.3f qps=%.0f", n, ef, recall, qps)
            del hnsw
        results.other_cores[n] = others.cores()
    return results


# ---------------------------------------------------------------------------------------------
# The report


def _n(n: int) -> str:
    return f"{n:,}"


def _bytes(count: float) -> str:
    return f"{count / 1e9:.2f} GB" if count >= 1e9 else f"{count / 1e6:,.1f} MB"


def _pct(fraction: float) -> str:
    return f"{fraction:.0%}" if fraction >= 0.01 else f"{fraction:.1%}"


def _ms(ms: float) -> str:
    return f"{ms:.3g}" if ms < 100 else f"{ms:,.0f}"


def _qps(qps: Optional[float]) -> str:
    if qps is None:
        return "—"
    return f"{qps:,.0f}" if qps >= 10 else f"{qps:.2g}"


def _find(rows: Sequence[ExactRow], n: int, method: str, batch: int) -> Optional[ExactRow]:
    for row in rows:
        if (row.n, row.method, row.batch) == (n, method, batch) and row.batches:
            return row
    return None


def growth_paragraph(cfg: BenchConfig, exact: ExactResults) -> List[str]:
    """'How cost grows with the collection', computed from this run's numbers."""
    lines: List[str] = []
    batch = cfg.batches[0]
    methods = [m for m in (FAISS_CPU, NUMPY, TORCH, FAISS_GPU) if _find(exact.rows, cfg.sizes[0], m, batch)]
    for method in methods:
        steps = []
        for small, large in zip(cfg.sizes, cfg.sizes[1:]):
            a, b = _find(exact.rows, small, method, batch), _find(exact.rows, large, method, batch)
            if a and b:
                steps.append(f"×{b.p50_ms / a.p50_ms:.1f} from {_n(small)} to {_n(large)} "
                             f"({_ms(a.p50_ms)} → {_ms(b.p50_ms)} ms; the collection grew ×{large / small:g})")
        if steps:
            lines.append(f"- **{method}**, batch {batch}, p50 latency: " + "; ".join(steps) + ".")
    lines.append("")
    lines.append(
        "A ratio close to the growth of the collection means the search is a scan bound by reading "
        "the vectors, so cost is linear in N; a ratio well below it means a fixed per-call cost "
        "(thread start-up, Python, allocation, or on a shared machine the wait for a free core) still "
        "dominated at the smaller size; a ratio well above it means the smaller collection still fit in "
        "the CPU caches, or that the two sizes were measured under different load."
    )
    busy = [(n, exact.other_cores.get(n)) for n in cfg.sizes]
    if all(b is not None for _, b in busy) and max(b for _, b in busy) - min(b for _, b in busy) >= 0.25:
        lines.append(
            "In this run the load did differ: other processes kept "
            + ", ".join(f"{b:.2f} cores busy at {_n(n)}" for n, b in busy)
            + ", so read the ratios between those sizes with care."
        )
    largest = cfg.sizes[-1]
    best = {b: max((r for r in exact.rows if r.n == largest and r.batch == b and r.batches
                    and r.method != FAISS_GPU), key=lambda r: r.qps, default=None) for b in cfg.batches}
    if best[cfg.batches[0]] and best[cfg.batches[-1]]:
        one, many = best[cfg.batches[0]], best[cfg.batches[-1]]
        lines.append("")
        lines.append(
            f"At {_n(largest)} vectors ({_bytes(largest * cfg.dim * 4)} of float32), the fastest exact "
            f"CPU method answers one query in {_ms(one.p50_ms)} ms ({one.method}, "
            f"{_pct(one.bandwidth_fraction)} of the measured bandwidth), i.e. at most ~{one.qps:,.0f} queries/s "
            f"one at a time; batching {cfg.batches[-1]} queries raises that to ~{many.qps:,.0f} queries/s "
            f"({many.method}), because one pass over the vectors then serves the whole batch."
        )
    return lines


def _fastest_exact(ann: AnnResults, n: int) -> Optional[AnnRow]:
    return max((r for r in ann.rows if r.n == n and r.exact and r.qps), key=lambda r: r.qps, default=None)


def which_index_paragraph(cfg: BenchConfig, exact: ExactResults, ann: AnnResults) -> List[str]:
    """'Which index when', computed from this run's numbers on the clustered set."""
    target = cfg.target_recall
    lines: List[str] = []
    small = [n for n in cfg.sizes if n < min(cfg.ann_sizes)]
    for n in small:
        best = min((r for r in exact.rows if r.n == n and r.batch == 1 and r.batches and r.method != FAISS_GPU),
                   key=lambda r: r.p50_ms, default=None)
        if best:
            text = f"- **{_n(n)} vectors**: exact search answers one query in {_ms(best.p50_ms)} ms (p50, {best.method})"
            if best.p50_ms < 10:  # well inside a chat reply's budget
                text += ", with nothing to build, tune or miss: an approximate index has little to gain here"
            lines.append(text + ".")
    for n in cfg.ann_sizes:
        base = _fastest_exact(ann, n)
        if base is None:
            continue
        parts = []
        picks = []
        for family in dict.fromkeys(r.index for r in ann.rows if r.n == n and not r.exact):
            tried = [r for r in ann.rows if r.n == n and r.index == family]
            done = [r for r in tried if r.qps is not None]
            if not done:
                parts.append(f"{family}: {tried[0].note}")
                continue
            # settings are listed cheapest first, so the first that reaches the target is the smallest
            reach = next((r for r in done if r.recall >= target), None)
            if reach is None:
                top = max(done, key=lambda r: r.recall)
                parts.append(f"{family} does not reach it (at most {top.recall:.3f}, at {top.setting})")
                continue
            picks.append(reach)
            parts.append(
                f"{family} at {reach.setting} (recall {reach.recall:.3f}, {_qps(reach.qps)} queries/s, "
                f"×{reach.qps / base.qps:.1f} the speed of exact search; built in {reach.build_s:.1f} s)"
            )
        text = (f"- **{_n(n)} vectors**: exact search answers {_qps(base.qps)} queries/s at batch "
                f"{cfg.ann_batch} ({base.index[len('exact: '):]}, the fastest exact method on these vectors). "
                f"Smallest setting with recall@{cfg.k} ≥ {target:g}: " + "; ".join(parts) + ".")
        picks.sort(key=lambda r: -r.qps)
        if len(picks) > 1 and picks[1].qps >= 0.9 * picks[0].qps:
            # one timed pass each: a gap under 10% is within the noise of a shared machine
            quick_build = min(picks, key=lambda r: r.build_s)
            text += (f" {picks[0].index} and {picks[1].index} are about as fast here (within 10%, one timed "
                     f"pass each); **{quick_build.index}, {quick_build.setting}** builds faster "
                     f"({quick_build.build_s:.1f} s), ×{quick_build.qps / base.qps:.1f} the speed of exact search.")
        elif picks:
            pick = picks[0]
            text += (f" The fastest way to recall@{cfg.k} ≥ {target:g} here is **{pick.index}, {pick.setting}**, "
                     f"×{pick.qps / base.qps:.1f} the speed of exact search.")
        else:
            text += f" No index tried reaches recall@{cfg.k} ≥ {target:g} here: stay with exact search."
        lines.append(text)
    lines.append("")
    if len(ann.data) > 1:
        sizes = sorted(ann.data)
        lines.append(
            f"The number of centres is fixed, so clusters grow with the collection (from ~{sizes[0] / cfg.clusters:,.0f} "
            f"to ~{sizes[-1] / cfg.clusters:,.0f} vectors on average), and the share of the true top-{cfg.k} from "
            f"the query's own cluster goes from {ann.data[sizes[0]].own_cluster:.0%} to "
            f"{ann.data[sizes[-1]].own_cluster:.0%}: the larger set is the easier one for IVF. A real "
            "collection that grew tenfold would more likely gain topics too, and need a larger nprobe than here."
        )
        lines.append("")
    lines.append(
        "The recall figures depend on how clustered the vectors are; they come from the synthetic set "
        "described above, so before switching the knowledge base to an approximate index, check its "
        "recall on the real passages and customer questions. Exact search costs the same on any vectors; "
        "the speed of IVF and HNSW at a given setting depends on the data too (how evenly the lists fill, "
        "how the graph connects)."
    )
    return lines


def write_report(path: Path, cfg: BenchConfig, machine: Dict[str, str], bandwidth: Dict[str, float],
                 exact: ExactResults, ann: AnnResults, run: Dict[str, str]) -> str:
    out: List[str] = []
    add = out.append
    add("# Vector search speed: exact and approximate top-10 over synthetic 384-d vectors")
    add("")
    add(f"Written by `python -m bot.evaluation.bench_search {run['argv']}` on {run['date']}; "
        f"the run took {run['seconds']} s. {'**Quick mode: tiny sizes, not for decisions.**' if cfg.quick else ''}")
    add("")
    add("## Machine")
    add("")
    add("| | |")
    add("|---|---|")
    for key, value in machine.items():
        add(f"| {key} | {value} |")
    add(f"| load average (1 min) at start / end | {run['load_start']} / {run['load_end']} |")
    add(f"| cores kept busy by other processes during the run (average, from /proc/stat) | {run['other_cores']} |")
    add("")
    add(f"Numbers were taken on a shared {machine['cores (this process may use)']}-core machine: other "
        f"processes kept {run['other_cores']} cores busy on average during the run (each table below gives "
        "the figure for its own stretch). While another process holds a core, a search that uses both threads waits for "
        "a time slice, which can add several milliseconds to a search: at the smallest size, latencies "
        "far above what the bandwidth allows (a low `bandwidth used` at batch 1), often sitting on "
        "multiples of a few milliseconds, are mostly that wait. Compare methods within this run, through the ratios below, rather than the "
        "absolute times with other runs.")
    add("")
    add("## Memory bandwidth")
    add("")
    add(f"Sum over a {bandwidth['bytes'] / 2**30:.2g} GiB float32 array, best of {cfg.bandwidth_runs} runs: "
        f"**{bandwidth['best']:.1f} GB/s** (one thread {bandwidth['one_thread']:.1f} GB/s, "
        f"{cpu_cores()} threads {bandwidth['all_threads']:.1f} GB/s). "
        "An exact search must read every vector once per batch, so `bandwidth used` below is "
        "(bytes of the database) / (p50 time per batch) / this figure: near 100% means the search is "
        "limited by memory, far below means by arithmetic or overhead.")
    add("")
    add("## Data")
    add("")
    dups = int(round(cfg.query_pool * cfg.dup_fraction))
    add(f"Seeded (`--seed {cfg.seed}`) float32 vectors of {cfg.dim} dimensions, Gaussian directions "
        f"normalised to length 1; each smaller collection is the start of the largest one. "
        f"{cfg.query_pool:,} queries drawn the same way, of which {dups:,} (every other one) are "
        f"near-duplicates of database vectors (the vector plus noise of {cfg.dup_noise:g} of its length, "
        f"cosine ≈ {1 / math.sqrt(1 + cfg.dup_noise ** 2):.2f} to its source), so that a right answer "
        "exists and can be missed. Batches take consecutive queries from this pool. The approximate "
        "indexes are measured on a second, clustered set, described in their section.")
    add("")
    add("## Exact search")
    add("")
    add(f"Top-{cfg.k} by inner product. Each combination gets one warm-up batch, then batches until "
        f"{cfg.budget_s:g} s are spent (at least {cfg.min_batches}, at most {cfg.max_batches}), except "
        f"that no more batches are started once the next one would pass {cfg.cap_s:g} s: the slowest "
        "combinations are measured with fewer batches (see `batches`; with few batches p99 is "
        "simply the slowest one). NumPy and torch compute scores in blocks of database rows that keep "
        f"the score matrix under {cfg.score_budget * 4 / 2**20:.0f} MiB, as a production search would; "
        f"FAISS blocks internally. torch and FAISS use {cpu_cores()} threads, NumPy's BLAS its default.")
    if any(r.bandwidth_fraction and r.bandwidth_fraction > 1 for r in exact.rows):
        add("")
        add("A `bandwidth used` above 100% means the vectors fit in the CPU caches, which are faster "
            "than memory: small collections are not limited by memory at all.")
    capped = [r for r in exact.rows if 0 < r.batches < cfg.min_batches]
    if capped:
        add("")
        add("Measured with fewer batches than the minimum, because one batch takes long: " + "; ".join(
            f"N={_n(r.n)}, B={r.batch}, {r.method}: {r.batches} batch(es), {r.batches * r.batch:,} queries"
            for r in capped) + ".")
    for n in cfg.sizes:
        add("")
        add(f"### N = {_n(n)} ({_bytes(n * cfg.dim * 4)})")
        busy = exact.other_cores.get(n)
        if busy is not None:
            add("")
            add(f"Other processes kept {busy:.2f} of {cpu_cores()} cores busy while this table was measured.")
        add("")
        add("| method | batch | batches | queries/s | p50 ms/batch | p99 ms/batch | bandwidth used |")
        add("|---|---:|---:|---:|---:|---:|---:|")
        for row in (r for r in exact.rows if r.n == n):
            if not row.batches:
                add(f"| {row.method} | {row.batch} | — | {row.note} | | | |")
                continue
            frac = "n/a (GPU memory)" if row.bandwidth_fraction is None else _pct(row.bandwidth_fraction)
            add(f"| {row.method} | {row.batch} | {row.batches} | {_qps(row.qps)} | {_ms(row.p50_ms)} | "
                f"{_ms(row.p99_ms)} | {frac} |")
    add("")
    add("## Agreement of the exact methods")
    add("")
    add(f"For every size and batch size, the first batch each method answered (the same queries for all) "
        f"is checked against the true top-{cfg.k}, recomputed in float64 over all methods' candidates. "
        f"`same ids` counts identical sets; `right, ties allowed` also accepts answers that differ only by "
        f"ids scoring within 1e-5 of the {cfg.k}th best.")
    add("")
    add("| N | batch | method | queries | same ids | right, ties allowed |")
    add("|---:|---:|---|---:|---:|---:|")
    all_right = True
    for (n, batch), counts in exact.agreement.items():
        for method, (same, right) in counts.items():
            all_right &= right == batch
            add(f"| {_n(n)} | {batch} | {method} | {batch} | {same} | {right} |")
    add("")
    add("**All exact methods returned the same top-10 ids (allowing ties).**" if all_right else
        "**The exact methods disagree beyond ties on some queries: see the table.**")
    add("")
    add("## Side by side: speed-up over the NumPy baseline")
    add("")
    add(f"Queries/s of each method divided by {BASELINE}'s in the same run (above 1: faster than NumPy).")
    add("")
    others = [m for m in (FAISS_CPU, TORCH, FAISS_GPU) if any(r.method == m and r.batches for r in exact.rows)]
    add("| N | batch | NumPy queries/s | " + " | ".join(f"{m} ÷ NumPy" for m in others) + " |")
    add("|---:|---:|---:|" + "---:|" * len(others))
    for n in cfg.sizes:
        for batch in cfg.batches:
            base = _find(exact.rows, n, BASELINE, batch)
            if not base:
                continue
            ratios = []
            for m in others:
                row = _find(exact.rows, n, m, batch)
                ratios.append(f"×{row.qps / base.qps:.2f}" if row else "—")
            add(f"| {_n(n)} | {batch} | {_qps(base.qps)} | " + " | ".join(ratios) + " |")
    if faiss_gpu_count() == 0:
        add("")
        add("FAISS on the GPU: not available on this machine (`faiss.get_num_gpus()` is 0).")
    add("")
    add("## Approximate indexes")
    add("")
    decay = "1/i" if cfg.noise_decay == 0.5 else f"1/i^{2 * cfg.noise_decay:g}"
    add("On isotropic random vectors like those above, a fresh query's true top-10 are barely closer "
        "than everything else, so an approximate index's recall says nothing about real use. The "
        f"indexes are therefore measured on a second seeded set that clusters like sentence embeddings: "
        f"{cfg.clusters:,} cluster centres, grouped under {cfg.topics} topics (a centre is its topic plus "
        f"noise of norm {cfg.topic_spread:g}, normalised), with lognormal cluster sizes (σ = "
        f"{cfg.cluster_size_sigma:g}); a point is a centre plus noise of norm {cfg.cluster_noise:g}, "
        f"normalised, whose variance falls off as {decay} over the coordinates, so "
        f"that a few dozen directions carry most of it, as in real embeddings. {cfg.ann_queries:,} queries "
        "are drawn the same way from the same centres. Each smaller collection is the start of the larger one.")
    if ann.data:
        add("")
        add(f"| N | nearest neighbour, mean cosine | {cfg.k}th neighbour | random vector | "
            f"true top-{cfg.k} from the query's own cluster |")
        add("|---:|---:|---:|---:|---:|")
        for n, d in ann.data.items():
            add(f"| {_n(n)} | {d.top1_cos:.2f} | {d.topk_cos:.2f} | {d.random_cos:.2f} ± {d.random_sd:.2f} | "
                f"{d.own_cluster:.0%} |")
        add("")
        add("For comparison, the knowledge base's own 292 passages (all-MiniLM-L6-v2) give 0.75, 0.56 and "
            "0.26 ± 0.16 (real embeddings share a common direction, which moves every score about alike).")
    add("")
    add(f"`recall@{cfg.k}`: share of the exact top-{cfg.k} (FAISS IndexFlatIP) found. `top-1 found`: share "
        f"of queries whose true nearest neighbour is among the {cfg.k} returned, the passage a customer's "
        f"question matches best. Queries are searched in batches of {cfg.ann_batch}, one pass over all "
        f"{cfg.ann_queries:,}. The `exact` rows are the exact methods above, timed again on these vectors "
        f"and queries in the same stretch of the run; `× exact` divides by the fastest of them. IVF "
        f"lists are trained with seed {cfg.seed}; HNSW is built with {cpu_cores()} threads, so its graph "
        "can differ slightly between runs.")
    for n in cfg.ann_sizes:
        busy = ann.other_cores.get(n)
        if busy is not None:
            add("")
            add(f"At N = {_n(n)}, other processes kept {busy:.2f} of {cpu_cores()} cores busy.")
    add("")
    add(f"| N | index | setting | build s | recall@{cfg.k} | top-1 found | queries/s (batch {cfg.ann_batch}) | × exact |")
    add("|---:|---|---|---:|---:|---:|---:|---:|")
    for r in ann.rows:
        if r.qps is None:
            add(f"| {_n(r.n)} | {r.index} | {r.setting} | — | {r.note} | | | |")
            continue
        base = _fastest_exact(ann, r.n)
        ratio = f"×{r.qps / base.qps:.2f}" if base else "—"
        if r.exact:
            add(f"| {_n(r.n)} | {r.index} | — | — | exact | exact | {_qps(r.qps)} | {ratio} |")
            continue
        add(f"| {_n(r.n)} | {r.index} | {r.setting} | {r.build_s:.1f} | {r.recall:.3f} | {r.top1_found:.3f} | "
            f"{_qps(r.qps)} | {ratio} |")
    if ann.rows:
        add("")
        add("## Which index when")
        add("")
        out.extend(which_index_paragraph(cfg, exact, ann))
    add("")
    add("## How cost grows with the collection")
    add("")
    out.extend(growth_paragraph(cfg, exact))
    add("")
    text = "\n".join(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


# ---------------------------------------------------------------------------------------------
# Entry point


def _ints(text: str) -> Tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())


def run(cfg: BenchConfig, out: Path, argv_text: str = "") -> str:
    """The whole benchmark; writes the report to ``out`` and returns its text."""
    started = time.perf_counter()
    others = OtherLoad()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cores = cpu_cores()
    torch.set_num_threads(cores)
    faiss.omp_set_num_threads(cores)
    machine = machine_info()

    bandwidth = measure_bandwidth(cfg.bandwidth_bytes, cfg.bandwidth_runs, cores)
    logger.info("bench.bandwidth gbs=%.1f", bandwidth["best"])

    database = make_database(max(cfg.sizes), cfg.dim, cfg.seed, cores)
    queries, _sources = make_queries(database, cfg.query_pool, cfg.dup_fraction, cfg.dup_noise, cfg.seed,
                                     source_limit=min(cfg.sizes))
    logger.info("bench.data n=%d queries=%d seconds=%.1f", len(database), len(queries), time.perf_counter() - started)
    exact = run_exact(cfg, database, queries, bandwidth["best"])
    del database  # the clustered set takes its place in memory

    ann = AnnResults()
    if cfg.ann_sizes:
        clusters = make_clusters(cfg)
        vectors, labels = make_clustered(clusters, max(cfg.ann_sizes), cfg.seed, stream=3, threads=cores)
        ann_queries, query_labels = make_clustered(clusters, cfg.ann_queries, cfg.seed, stream=4)
        logger.info("bench.clustered n=%d clusters=%d", len(vectors), cfg.clusters)
        ann = run_approximate(cfg, vectors, labels, ann_queries, query_labels)
        del vectors

    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    run_info = {
        "argv": argv_text,
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "seconds": f"{time.perf_counter() - started:.0f}",
        "load_start": f"{load_start:.2f}",
        "load_end": f"{load_end:.2f}",
        "other_cores": "unknown" if others.cores() is None else f"{others.cores():.2f}",
    }
    text = write_report(out, cfg, machine, bandwidth, exact, ann, run_info)
    logger.info("bench.done out=%s seconds=%s", out, run_info["seconds"])
    return text


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_ints, help="collection sizes, e.g. 10000,100000,1000000")
    parser.add_argument("--batches", type=_ints, help="queries per batch, e.g. 1,32,1024")
    parser.add_argument("--ann-sizes", type=_ints, help="sizes for IVF/HNSW, e.g. 100000 (empty: none)")
    parser.add_argument("--out", type=Path, default=None, help="report path (default reports/bench_search.md)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="a tiny run of a few seconds (tests)")
    args = parser.parse_args(argv)

    cfg = BenchConfig.tiny() if args.quick else BenchConfig()
    overrides = {name: getattr(args, name) for name in ("sizes", "batches", "ann_sizes", "seed")
                 if getattr(args, name) is not None}
    cfg = replace(cfg, **overrides)
    if cfg.query_pool < max(cfg.batches):
        cfg = replace(cfg, query_pool=max(cfg.batches))
    out = args.out or get_settings().root / "reports" / "bench_search.md"

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    shown = " ".join(argv if argv is not None else sys.argv[1:]) or "(defaults)"
    run(cfg, out, shown)
    print(f"Report written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
