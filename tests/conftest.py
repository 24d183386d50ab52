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
