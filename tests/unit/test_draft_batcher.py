"""The draft batcher (bot/generation/batcher.py): who gets decoded together, who does not wait.

The runtime here is a stand-in that records its batches: these tests are about scheduling, not
decoding (tests/integration/test_drafter_e2e.py decodes with a real fine-tuned run).
"""

from __future__ import annotations

import threading
import time

import pytest

from bot.generation.batcher import DraftBatcher
from bot.generation.runtimes import Generation


class Recorder:
    """Decodes nothing: answers each prompt with its own text, after `gate` opens."""

    tokenizer = None

    def __init__(self, fail: bool = False):
        self.batches, self.gate, self.decoding, self.fail = [], threading.Event(), threading.Event(), fail
        self.gate.set()

    def generate_batch(self, prompts, max_new_tokens, deadlines_s, suppress_first=None):
        self.batches.append(list(prompts))
        self.decoding.set()
        self.gate.wait(10)
        if self.fail:
            raise RuntimeError("the model fell over")
        return [Generation(f"answer to {p}", 100, 5, 0.01, 0.02, False, 7, 0.9) for p in prompts]


def in_(seconds: float) -> float:
    return time.monotonic() + seconds


def test_drafts_that_wait_together_are_decoded_as_one_batch():
    runtime = Recorder()
    runtime.gate.clear()  # the first batch decodes while three more customers write
    batcher = DraftBatcher(runtime, max_batch=4, wait_s=0.01, max_waiting=8)
    first = batcher.submit("q0", in_(10))
    assert runtime.decoding.wait(5)
    rest = [batcher.submit(f"q{i}", in_(10)) for i in (1, 2, 3)]
    runtime.gate.set()
    assert first.result(5).text == "answer to q0"
    assert [f.result(5).text for f in rest] == ["answer to q1", "answer to q2", "answer to q3"]
    assert runtime.batches == [["q0"], ["q1", "q2", "q3"]]


def test_a_full_queue_turns_the_next_draft_away_at_once():
    runtime = Recorder()
    runtime.gate.clear()
    batcher = DraftBatcher(runtime, max_batch=2, max_waiting=2)
    batcher.submit("decoding", in_(10))
    assert runtime.decoding.wait(5)
    assert batcher.submit("a", in_(10)) is not None and batcher.submit("b", in_(10)) is not None
    started = time.perf_counter()
    assert batcher.submit("c", in_(10)) is None  # the caller quotes instead of waiting
    assert time.perf_counter() - started < 0.1
    runtime.gate.set()


def test_a_draft_already_late_when_its_batch_starts_is_not_decoded():
    runtime = Recorder()
    runtime.gate.clear()
    batcher = DraftBatcher(runtime, max_batch=4)
    batcher.submit("slow", in_(10))
    assert runtime.decoding.wait(5)
    late = batcher.submit("late", in_(0.05))
    time.sleep(0.1)
    runtime.gate.set()
    generation = late.result(5)
    assert generation.timed_out and generation.text == ""
    time.sleep(0.05)
    assert ["late"] not in runtime.batches and all("late" not in b for b in runtime.batches)


def test_a_failing_runtime_fails_its_batch_and_the_next_batch_still_runs():
    runtime = Recorder(fail=True)
    batcher = DraftBatcher(runtime)
    with pytest.raises(RuntimeError):
        batcher.submit("q", in_(10)).result(5)
    runtime.fail = False
    assert batcher.submit("again", in_(10)).result(5).text == "answer to again"


def test_a_runtime_without_batches_decodes_the_prompts_one_by_one():
    from bot.generation.runtimes import decode_batch

    class OneByOne:
        tokenizer = None

        def __init__(self):
            self.prompts = []

        def generate(self, prompt, max_new_tokens, deadline_s):
            self.prompts.append(prompt)
            return Generation(prompt.upper(), 10, 2, 0.01, 0.01, False)

    runtime = OneByOne()
    out = decode_batch(runtime, ["a", "b"], 10, [5.0, 5.0])
    assert [g.text for g in out] == ["A", "B"] and runtime.prompts == ["a", "b"]


def test_with_no_waiting_room_a_draft_starts_only_on_an_idle_model():
    runtime = Recorder()
    runtime.gate.clear()
    batcher = DraftBatcher(runtime, max_waiting=0)
    first = batcher.submit("idle model", in_(10))
    assert first is not None and runtime.decoding.wait(5)
    assert batcher.submit("while decoding", in_(10)) is None
    runtime.gate.set()
    first.result(5)
    deadline = time.monotonic() + 5
    while batcher._decoding and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batcher.submit("idle again", in_(10)).result(5).text == "answer to idle again"
