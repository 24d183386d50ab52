"""The action server swaps in a re-ranker and its confidence model trained while it runs
(bot/services.py reload_if_retrained): a first `make run` answers with first-stage search until
the background training (bot/launcher.py) writes them."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from bot import services
from bot.settings import get_settings


@pytest.fixture
def bare_server(monkeypatch, tmp_path):
    """The action server's services as a first `make run` starts them: no re-ranker yet."""
    from bot.retrieval.search import Retriever

    real = get_settings()
    if not (real.reranker_dir / "manifest.json").exists() or not real.confidence_path.exists():
        pytest.fail("no trained re-ranker: make reranker")
    settings = dataclasses.replace(real, models_dir=tmp_path)  # its re-ranker, confidence, matcher
    trained = services.get_retriever(real)
    first_stage = Retriever(trained.kb, trained.embedder, settings.kb_search_mode,
                            services.first_stage_threshold(settings, None))
    monkeypatch.setattr(services, "_retriever", first_stage)
    monkeypatch.setattr(services, "_confidence", None)
    monkeypatch.setattr(services, "_approved", None)
    monkeypatch.setattr(services, "_model_stamp", services.model_files(settings))
    monkeypatch.setattr(services, "_next_check", 0.0)
    monkeypatch.setattr(services, "RELOAD_CHECK_S", 0.0)
    monkeypatch.setattr(services, "_reload_in_background", lambda settings: None)  # called directly here
    return real, settings


def test_a_reranker_trained_while_the_server_runs_goes_live_with_its_confidence_model(bare_server):
    real, settings = bare_server
    assert services.reload_if_retrained(settings) is False  # nothing new
    assert services.components(settings, with_drafter=False).retriever.reranker is None

    (settings.reranker_dir).symlink_to(real.reranker_dir, target_is_directory=True)
    # the re-ranker is written, its confidence model not yet: neither goes live alone
    assert services.reload_if_retrained(settings) is False
    assert services._retriever.reranker is None and services._confidence is None

    shutil.copy(real.confidence_path, settings.confidence_path)
    assert services.reload_if_retrained(settings) is True
    parts = services.components(settings, with_drafter=False)
    assert parts.retriever.reranker is not None and parts.confidence is not None
    assert parts.retriever.threshold == settings.kb_threshold  # the warm-up's stricter one is gone
    assert parts.retriever.kb is services.get_retriever(real).kb  # the index is not loaded again

    from bot.answering.policy import respond

    answer = respond(parts, "how long does a refund to paypal take")
    assert answer.kind == "extractive" and "3" in answer.text and "business days" in answer.text
    assert services.reload_if_retrained(settings) is False  # and only once


def test_make_run_trains_in_the_background_only_what_make_says_is_missing(tmp_path):
    """bot/launcher.py asks make what is out of date (here a Makefile of the same targets)."""
    from bot import launcher

    (tmp_path / "Makefile").write_text(
        "reranker: done-reranker\n"
        "done-reranker:\n\ttouch done-reranker\n"
        "matcher: done-matcher\n"
        "done-matcher:\n\ttouch done-matcher\n")
    (tmp_path / "done-matcher").touch()  # the matcher is current, the re-ranker missing
    settings = dataclasses.replace(get_settings(), root=tmp_path, var_dir=tmp_path / "var")
    training = launcher.start_background_training(settings, tmp_path / "logs")
    assert training is not None and training.targets == ("reranker",)
    assert training.process.wait(30) == 0 and (tmp_path / "done-reranker").exists()
    assert "Still training the reranker" in launcher.banner(settings, 1.0, training)
    # now both are current: nothing starts; told not to train, it never does
    assert launcher.start_background_training(settings, tmp_path / "logs") is None
    (tmp_path / "done-matcher").unlink()
    off = dataclasses.replace(settings, background_training=False)
    assert launcher.start_background_training(off, tmp_path / "logs") is None
    assert "Still training" not in launcher.banner(settings, 1.0, None)


def test_until_the_reranker_is_trained_the_bot_refuses_more_readily():
    settings = get_settings()
    assert settings.kb_warmup_threshold > settings.kb_threshold
    assert services.first_stage_threshold(settings, None) == settings.kb_warmup_threshold
    assert services.first_stage_threshold(settings, object()) == settings.kb_threshold
    # a team that turned the re-ranker off chose first-stage search: its threshold stays
    off = dataclasses.replace(settings, kb_reranker="off")
    assert services.first_stage_threshold(off, None) == settings.kb_threshold
