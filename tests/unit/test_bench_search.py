"""The search benchmark: its exact methods agree, its clustered set makes recall meaningful, and a
quick run writes a complete report.

Runs on seeded 2,000-vector sets in a few seconds; speeds are not checked (they depend on the
machine), only that they are there. Recall is checked: it depends on the data, not the machine.
"""

from dataclasses import replace

import numpy as np
import pytest

from bot.evaluation import bench_search as bench


@pytest.fixture(scope="module")
def data():
    cfg = bench.BenchConfig.tiny()
    database = bench.make_database(2000, cfg.dim, seed=7, threads=2)
    queries, sources = bench.make_queries(database, 64, 0.5, cfg.dup_noise, seed=7, source_limit=2000)
    return cfg, database, queries, sources


def test_data_is_seeded_unit_vectors_and_smaller_sets_are_prefixes(data):
    cfg, database, queries, sources = data
    assert database.dtype == np.float32 and database.shape == (2000, cfg.dim)
    assert np.allclose(np.linalg.norm(database, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(queries, axis=1), 1, atol=1e-5)
    again = bench.make_database(2000, cfg.dim, seed=7, threads=1)
    assert np.array_equal(database, again)
    assert np.array_equal(bench.make_database(500, cfg.dim, seed=7), database[:500])
    # half the queries are near-duplicates, and each is closest to its source
    dups = np.flatnonzero(sources >= 0)
    assert len(dups) == 32
    assert np.all(np.argmax(queries[dups] @ database.T, axis=1) == sources[dups])


@pytest.fixture(scope="module")
def clustered():
    cfg = bench.BenchConfig.tiny()
    clusters = bench.make_clusters(cfg)
    database, labels = bench.make_clustered(clusters, 2000, cfg.seed, stream=3, threads=2)
    queries, query_labels = bench.make_clustered(clusters, cfg.ann_queries, cfg.seed, stream=4)
    return cfg, clusters, database, labels, queries, query_labels


def test_clustered_data_is_seeded_and_true_neighbours_stand_out(data, clustered):
    cfg, clusters, database, labels, queries, query_labels = clustered
    assert database.dtype == np.float32 and database.shape == (2000, cfg.dim)
    assert np.allclose(np.linalg.norm(database, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(queries, axis=1), 1, atol=1e-5)
    again, again_labels = bench.make_clustered(bench.make_clusters(cfg), 2000, cfg.seed, stream=3, threads=1)
    assert np.array_equal(database, again) and np.array_equal(labels, again_labels)
    assert np.array_equal(bench.make_clustered(clusters, 500, cfg.seed, stream=3)[0], database[:500])
    assert not np.array_equal(queries, database[: len(queries)])

    def tenth_and_random(vectors, qs):
        scores = qs @ vectors.T
        return np.sort(scores, axis=1)[:, -10].mean(), scores.mean()

    # on the clustered set a query's 10th neighbour is far closer than a random vector...
    tenth, random = tenth_and_random(database, queries)
    assert tenth > 0.4 and abs(random) < 0.15
    # ...while on the isotropic set it is barely closer, which is why recall meant nothing there
    iso_cfg, iso_database, iso_queries, sources = data
    iso_tenth, iso_random = tenth_and_random(iso_database, iso_queries[sources < 0])
    assert iso_tenth < 0.25 and tenth - random > 2 * (iso_tenth - iso_random)


def test_ivf_with_a_large_nprobe_finds_the_true_top_10_on_clustered_data(clustered):
    cfg, _, database, labels, queries, query_labels = clustered
    results = bench.run_approximate(cfg, database, labels, queries, query_labels)
    ivf = [r for r in results.rows if r.index.startswith("IVFFlat")]
    hnsw = [r for r in results.rows if r.index.startswith("HNSWFlat")]
    assert [r.setting for r in ivf] == [f"nprobe={p}" for p in cfg.nprobes]
    recalls = [r.recall for r in ivf]
    assert recalls == sorted(recalls), "probing more lists cannot lose a neighbour"
    assert recalls[-1] >= 0.9 and ivf[-1].top1_found >= 0.9
    assert hnsw and max(r.recall for r in hnsw) >= 0.9
    assert {r.index for r in results.rows if r.exact} >= {f"exact: {m}" for m in (bench.NUMPY, bench.FAISS_CPU)}
    stats = results.data[2000]
    assert stats.top1_cos > stats.topk_cos > stats.random_cos + 3 * stats.random_sd


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_the_three_exact_cpu_methods_agree_on_the_top_10(data, batch):
    cfg, database, queries, _ = data
    methods, _keep = bench.exact_methods(database, cfg)
    # a small score budget forces several row blocks, so the merge across blocks is exercised too
    small = replace(cfg, score_budget=batch * 300)
    methods[bench.NUMPY] = lambda q: bench.numpy_search(database, q, 10, bench.block_rows(len(q), small))
    q = queries[:batch]
    ids = {name: methods[name](q)[1] for name in (bench.NUMPY, bench.TORCH, bench.FAISS_CPU)}
    for found in ids.values():
        assert found.shape == (batch, 10)
    counts, truth = bench.agreement(database, q, ids, k=10)
    for name, (same, right) in counts.items():
        assert right == batch, name
    # best first, and the same ids in the same order as a brute-force float64 answer
    reference = np.argsort(-(q.astype(np.float64) @ database.T.astype(np.float64)), axis=1)[:, :10]
    assert np.array_equal(truth, reference)
    for name, found in ids.items():
        assert np.mean([set(a) == set(b) for a, b in zip(found, reference)]) == 1.0, name


def test_agreement_allows_ties_but_not_wrong_answers():
    database = np.eye(4, 3, dtype=np.float32)  # rows 0,1,2 are unit vectors, row 3 is zero
    database[3] = database[2]  # a tie: rows 2 and 3 score the same for any query
    query = np.array([[0.9, 0.5, 0.1]], dtype=np.float32)
    counts, _ = bench.agreement(
        database, query,
        {"a": np.array([[0, 1, 2]]), "tie": np.array([[0, 1, 3]]), "wrong": np.array([[0, 2, 3]])}, k=3,
    )
    assert counts["a"][1] == 1 and counts["tie"][1] == 1
    assert counts["wrong"] == (0, 0)


def test_quick_run_writes_the_report_with_every_section(tmp_path):
    out = tmp_path / "bench_search.md"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    text = out.read_text()
    for section in (
        "## Machine",
        "## Memory bandwidth",
        "## Exact search",
        "### N = 2,000",
        "## Agreement of the exact methods",
        "## Side by side: speed-up over the NumPy baseline",
        "## Approximate indexes",
        "## Which index when",
        "## How cost grows with the collection",
    ):
        assert section in text, section
    assert "GB/s" in text and "cores" in text
    assert "All exact methods returned the same top-10 ids (allowing ties)." in text
    for method in (bench.NUMPY, bench.TORCH, bench.FAISS_CPU, bench.FAISS_GPU):
        assert f"| {method} |" in text
    if bench.faiss_gpu_count() == 0:
        assert "not available on this machine" in text
    assert "IVFFlat" in text and "HNSWFlat" in text and "| exact | exact |" in text
    assert "cluster centres" in text and "Smallest setting with recall@10 ≥ 0.95" in text
