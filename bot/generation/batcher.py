"""Drafts for several customers decoded together, by one thread that owns the model.

    batcher = DraftBatcher(runtime, max_new_tokens=100, refusal_min_prob=0.5)
    future = batcher.submit(prompt, deadline=time.monotonic() + 3.0)
    if future is None:
        ...                              # too many drafts wait already: quote at once
    generation = future.result(timeout)  # bot.generation.runtimes.Generation

Why: on 2 CPU cores two decodes side by side only make both late. One worker thread takes the
first waiting prompt, waits `wait_s` (a few milliseconds) for others, up to `max_batch`, and
decodes them as one batch (runtimes.decode_batch, with the refusal gate). Prompts that arrive
meanwhile wait for the next batch. Whether a batch pays depends on the runtime
(reports/bench_drafter.md, 2 CPU cores): transformers, which pads prompts to one length, went from
0.25 drafts/s one by one to 0.57 in batches of 8; CTranslate2 int8, which reads the part of the
longer prompts beyond the shortest token by token, from 0.42 to 0.33. So the bot's default batch
is 1 on a CPU (`BOT_DRAFT_MAX_BATCH`), and the queue still gives the turn-away and the deadlines.

Nobody waits past their deadline: a request that is already late when its batch starts is not
decoded (its future gets a timed-out Generation), each row of a batch stops at its own deadline,
and at most `max_waiting` requests wait behind the batch being decoded; `submit` refuses more
(returns None), so a turn that cannot be drafted in time gets the quoted answer at once instead of
queueing. With `max_waiting` 0 a draft is taken only when the model is idle: on 2 CPU cores one
draft takes longer than half the draft deadline, so one that waits is late anyway. The caller waits on
the future without holding a worker thread (actions/actions.py awaits it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Deque, List, Optional

from bot.generation.runtimes import Generation, decode_batch

logger = logging.getLogger(__name__)


@dataclass
class _Request:
    prompt: str
    deadline: float  # time.monotonic() when the draft is no use any more
    future: Future = field(default_factory=Future)


class DraftBatcher:
    def __init__(self, runtime, max_new_tokens: int = 100, refusal_min_prob: float = 0.5,
                 max_batch: int = 4, wait_s: float = 0.01, max_waiting: int = 4):
        self.runtime = runtime
        self.max_new_tokens = max_new_tokens
        self.refusal_min_prob = refusal_min_prob
        self.max_batch = max(1, max_batch)
        self.wait_s = wait_s
        self.max_waiting = max_waiting
        self._waiting: Deque[_Request] = deque()
        self._ready = threading.Condition()
        self._worker: Optional[threading.Thread] = None
        self._decoding = False
        self.batches = 0  # how many batches were decoded, and their sizes (for the benchmark)
        self.batch_sizes: List[int] = []

    def submit(self, prompt: str, deadline: float) -> Optional[Future]:
        """A future for the draft of `prompt`, or None when `max_waiting` drafts wait already
        behind the one decoding (with 0: unless the model is idle)."""
        with self._ready:
            idle = not self._decoding and not self._waiting
            if not idle and len(self._waiting) >= self.max_waiting:
                return None
            request = _Request(prompt, deadline)
            self._waiting.append(request)
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="draft-batcher", daemon=True)
                self._worker.start()
            self._ready.notify()
            return request.future

    def waiting(self) -> int:
        with self._ready:
            return len(self._waiting)

    def _take(self) -> List[_Request]:
        """The next batch: the first waiting request and those that come within `wait_s`."""
        with self._ready:
            while not self._waiting:
                self._ready.wait()
            self._decoding = True
            batch = [self._waiting.popleft()]
            until = time.monotonic() + self.wait_s
            while len(batch) < self.max_batch:
                if self._waiting:
                    batch.append(self._waiting.popleft())
                    continue
                left = until - time.monotonic()
                if left <= 0:
                    break
                self._ready.wait(left)
            return batch

    def _run(self) -> None:
        while True:
            with self._ready:
                self._decoding = False
            batch = self._take()
            now = time.monotonic()
            live = []
            for request in batch:
                if not request.future.set_running_or_notify_cancel():
                    continue  # the turn gave up on it
                if request.deadline <= now:  # late before it started: not worth a decode
                    request.future.set_result(Generation("", 0, 0, None, 0.0, True))
                else:
                    live.append(request)
            if not live:
                continue
            self.batches += 1
            self.batch_sizes.append(len(live))
            try:
                generations = decode_batch(
                    self.runtime, [r.prompt for r in live], self.max_new_tokens,
                    [r.deadline - now for r in live], self.refusal_min_prob)
            except Exception as e:  # a broken runtime fails these drafts, not the worker
                logger.exception("draft.batch_failed size=%d", len(live))
                for request in live:
                    request.future.set_exception(e)
                continue
            for request, generation in zip(live, generations):
                request.future.set_result(generation)
