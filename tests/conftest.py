import os

# Nothing is downloaded in tests either.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 from its wheel, loaded once for the whole test session."""
    from bot.retrieval.embedder import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def components():
    """The answer policy's parts as the bot builds them by default: the real knowledge base, the
    trained re-ranker and confidence model (make reranker), no drafter."""
    from bot import services
    from bot.settings import get_settings

    parts = services.components(get_settings(), with_drafter=False)
    assert parts.retriever.reranker is not None and parts.confidence is not None, "run make reranker"
    return parts


@pytest.fixture(scope="session")
def vocabulary():
    """The answer vocabulary the drafter's novel-word check allows (from the training answers)."""
    from bot.generation.dataset import TRAIN_DIR, answer_vocabulary
    from bot.settings import get_settings

    settings = get_settings()
    return answer_vocabulary(settings.root / TRAIN_DIR, settings.articles_dir)
