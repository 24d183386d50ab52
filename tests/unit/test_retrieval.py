"""The knowledge base on a small set of articles written here: build, rebuild, manifest, search."""

import json
import shutil
import textwrap

import pytest

from bot.retrieval.articles import ArticleError, load_articles, split_passages
from bot.retrieval.index import ManifestError, build_index, choose_index_type, load_index
from bot.retrieval.search import Retriever

ARTICLES = {
    "refunds": """
        ---
        id: refunds
        title: How long refunds take
        url: https://help.example/refunds
        category: returns
        updated: 2026-01-01
        ---
        Refunds go back to the way you paid.

        ## Cards
        Card refunds take 5 to 10 business days to show on your statement.

        ## PayPal
        PayPal refunds arrive in 3 to 5 business days.
        """,
    "shipping": """
        ---
        id: shipping
        title: Shipping options
        url: https://help.example/shipping
        category: shipping
        updated: 2026-01-01
        ---
        We deliver to the US and Canada.

        ## Express
        Express delivery takes 2 business days and costs $14.95.
        """,
    "password": """
        ---
        id: password
        title: Resetting your password
        url: https://help.example/password
        category: account
        updated: 2026-01-01
        ---
        ## Forgot your password
        Choose Forgot password on the sign-in page; the reset link is valid for 1 hour.
        """,
}


def write_articles(directory, articles=ARTICLES):
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (directory / f"{name}.md").write_text(textwrap.dedent(text).lstrip())
    return directory


@pytest.fixture()
def kb(tmp_path, embedder):
    articles = write_articles(tmp_path / "articles")
    out = tmp_path / "index"
    report = build_index(articles, out, embedder, progress=False)
    return articles, out, report


def test_articles_split_into_answer_units_with_title_and_heading_as_context(tmp_path):
    (article,) = [a for a in load_articles(write_articles(tmp_path)) if a.id == "refunds"]
    passages = split_passages(article)
    # The intro is a unit of its own; each section's paragraphs, items and rows are units.
    assert [(p.heading, p.kind) for p in passages] == [("", "paragraph"), ("Cards", "paragraph"), ("PayPal", "paragraph")]
    assert passages[0].text == "Refunds go back to the way you paid."
    assert passages[2].context == "How long refunds take - PayPal\nPayPal refunds arrive in 3 to 5 business days."
    assert passages[2].passage_id == "refunds#2"


def test_a_table_row_is_an_answer_unit_with_its_headings(tmp_path):
    text = ARTICLES["shipping"] + """
        ## Prices
        Prices by region:

        | Region | Standard | Express |
        |---|---|---|
        | **Canada** | 5–8 days, CA$12.95 | – |
        | UK | 5–8 days, £11.95 | 2–4 days, £24.95 |

        1. Choose a region.
        2. Pay.
        - Pick-up points are US only.
        """
    (article,) = load_articles(write_articles(tmp_path, {"shipping": text}))
    units = [(p.kind, p.text) for p in split_passages(article) if p.heading == "Prices"]
    assert units == [
        ("paragraph", "Prices by region:"),
        ("row", "Canada: Standard: 5–8 days, CA$12.95"),
        ("row", "UK: Standard: 5–8 days, £11.95; Express: 2–4 days, £24.95"),
        ("step", "Choose a region."),
        ("step", "Pay."),
        ("item", "Prices: Pick-up points are US only."),  # a bare item after no lead-in: its heading
    ]
    assert all(p.section.startswith("Prices by region:") for p in split_passages(article) if p.heading == "Prices")


def test_an_article_without_front_matter_is_refused_with_its_name(tmp_path):
    (tmp_path / "broken.md").write_text("# no front matter\n")
    with pytest.raises(ArticleError, match="broken.md: no YAML front matter"):
        load_articles(tmp_path)


def test_build_writes_a_manifest_that_describes_the_index(kb):
    _, out, report = kb
    manifest = json.loads((out / "manifest.json").read_text())
    assert report.passages == manifest["passage_count"] == 6
    assert manifest["embedding_model"] == "packaged:all-MiniLM-L6-v2"
    assert manifest["dim"] == 384 and manifest["index_type"] == "flat"
    assert set(manifest["article_hashes"]) == {"refunds", "shipping", "password"}


def test_rebuild_embeds_only_changed_articles(kb, embedder):
    articles, out, first = kb
    assert (first.embedded_articles, first.reused_articles) == (3, 0)
    again = build_index(articles, out, embedder, progress=False)
    assert (again.embedded_articles, again.reused_articles) == (0, 3)
    text = (articles / "shipping.md").read_text().replace("$14.95", "$15.95")
    (articles / "shipping.md").write_text(text)
    changed = build_index(articles, out, embedder, progress=False)
    assert (changed.embedded_articles, changed.reused_articles) == (1, 2)
    # The result is the same as a build from scratch.
    fresh = out.parent / "fresh"
    build_index(articles, fresh, embedder, progress=False)
    a = load_index(out, embedder.name)
    b = load_index(fresh, embedder.name)
    assert [p.passage_id for p in a.passages] == [p.passage_id for p in b.passages]
    assert abs(a.vectors - b.vectors).max() < 1e-5


def test_load_refuses_an_index_built_with_another_model(kb):
    _, out, _ = kb
    with pytest.raises(ManifestError, match="built with embedding model .* `python -m bot kb build`"):
        load_index(out, "sentence-transformers/some-other-model")


def test_load_refuses_files_that_disagree_with_the_manifest(kb, embedder):
    _, out, _ = kb
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["passage_count"] = 99
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="disagree on the passage count"):
        load_index(out, embedder.name)


def test_load_refuses_an_index_older_than_its_articles(kb, embedder):
    articles, out, _ = kb
    shutil.copy(articles / "refunds.md", articles / "refunds-copy.md")
    (articles / "refunds-copy.md").write_text(
        (articles / "refunds-copy.md").read_text().replace("id: refunds", "id: refunds-copy")
    )
    with pytest.raises(ManifestError, match="articles changed since the index was built \\(refunds-copy\\)"):
        load_index(out, embedder.name, articles_dir=articles)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_search_finds_the_passage_that_answers(kb, embedder, mode):
    _, out, _ = kb
    retriever = Retriever(load_index(out, embedder.name), embedder, mode=mode, threshold=0.4)
    result = retriever.search("how long does a refund to paypal take", k=3)
    best = result.hits[0]
    assert (best.article_id, best.heading) == ("refunds", "PayPal")
    assert best.url == "https://help.example/refunds" and best.rank == 1
    assert result.answerable


def test_below_the_threshold_search_says_nothing_relevant(kb, embedder):
    _, out, _ = kb
    retriever = Retriever(load_index(out, embedder.name), embedder, mode="dense", threshold=0.4)
    result = retriever.search("do you sell cars on Mars", k=3)
    assert result.hits and not result.answerable
    assert result.best_score < 0.4
    assert not retriever.search("   ").answerable


def test_index_type_is_chosen_by_size():
    assert choose_index_type(500) == "flat"
    assert choose_index_type(50_000) == "hnsw"
    assert choose_index_type(2_000_000) == "ivf"
    assert choose_index_type(500, "hnsw") == "hnsw"


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
def test_approximate_indexes_find_the_same_best_passage(tmp_path, embedder, index_type):
    out = tmp_path / index_type
    build_index(write_articles(tmp_path / "a"), out, embedder, index_type=index_type, progress=False)
    retriever = Retriever(load_index(out, embedder.name), embedder, mode="dense", threshold=0.4)
    assert retriever.search("reset link for a forgotten password").hits[0].article_id == "password"
