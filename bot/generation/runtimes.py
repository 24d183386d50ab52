"""Decoding a draft: transformers (the reference, and the GPU path) or CTranslate2 (int8, CPU).

Both decode greedily with the KV cache, stop at the end of the assistant's turn (<|im_end|>) or at
`max_new_tokens`, and give up at `deadline_s`: the draft is then returned as far as it got, marked
timed out, and the caller sends something else. Both report the time to the first new token
(prompt processing included) and the number of tokens, for the log and the benchmark.

Both also decode several prompts as one batch (`generate_batch`, each prompt with its own
deadline): the drafts of customers who write at the same time share each step's matrix products
(bot/generation/batcher.py). `decode_batch` adds the refusal gate to it; `decode` is one prompt.

On 2 CPU cores CTranslate2's int8 kernels draft about 2.5x faster than transformers' eager fp32
(reports/generator.md), so `auto` picks it on a CPU when the run has a ct2-int8 folder.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

END_OF_TURN = "<|im_end|>"


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    new_tokens: int
    first_token_s: Optional[float]  # prompt processing + first new token; None if none came
    seconds: float
    timed_out: bool
    first_token_id: Optional[int] = None
    first_token_prob: Optional[float] = None  # the model's probability of its first token
    refusal_overruled: bool = False  # decode(): greedy began the refusal, not likely enough to stand


class TransformersRuntime:
    """transformers' generate(): fp32 on the CPU, bf16 on a GPU."""

    name = "transformers"

    def __init__(self, model_dir: str, device: Optional[str] = None):
        import torch

        from bot.generation.model import load, pick_device

        self.device, dtype = pick_device() if device is None else (device, torch.float32)
        self.tokenizer, self.model = load(model_dir, self.device, dtype)
        self._torch = torch

    def generate(self, prompt: str, max_new_tokens: int, deadline_s: float, suppress_first: Optional[int] = None) -> Generation:
        from transformers import StoppingCriteria, StoppingCriteriaList

        started = time.perf_counter()
        first: list = []

        class Clock(StoppingCriteria):
            """Called after each new token: notes the first, stops at the deadline."""

            def __call__(self, input_ids, scores, **kwargs):
                now = time.perf_counter()
                if not first:
                    first.append(now - started)
                return self._torch.full((input_ids.shape[0],), now - started > deadline_s, dtype=self._torch.bool)

        Clock._torch = self._torch
        ids = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids.to(self.device)
        with self._torch.inference_mode():
            out = self.model.generate(
                ids, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                stopping_criteria=StoppingCriteriaList([Clock()]),
                pad_token_id=self.tokenizer.eos_token_id,
                begin_suppress_tokens=[suppress_first] if suppress_first is not None else None,
                output_scores=True, return_dict_in_generate=True,
            )
        new = out.sequences[0, ids.shape[1]:].tolist()
        first_prob = float(self._torch.softmax(out.scores[0][0].float(), -1)[new[0]]) if new else None
        seconds = time.perf_counter() - started
        ended = bool(new) and new[-1] == self.tokenizer.eos_token_id
        return Generation(
            self.tokenizer.decode(new, skip_special_tokens=True).strip(), ids.shape[1], len(new),
            first[0] if first else None, seconds,
            timed_out=seconds > deadline_s and not ended and len(new) < max_new_tokens,
            first_token_id=new[0] if new else None, first_token_prob=first_prob,
        )


    def generate_batch(self, prompts: Sequence[str], max_new_tokens: int, deadlines_s: Sequence[float],
                       suppress_first: Optional[int] = None) -> List[Generation]:
        """Several prompts at once, padded on the left; each row stops at its own deadline."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        torch = self._torch
        started = time.perf_counter()
        first: list = []
        limits = torch.tensor(list(deadlines_s), dtype=torch.float64)

        class Clock(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                now = time.perf_counter() - started
                if not first:
                    first.append(now)
                return (limits < now).to(input_ids.device)

        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        batch = self.tokenizer(list(prompts), return_tensors="pt", add_special_tokens=False, padding=True).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                stopping_criteria=StoppingCriteriaList([Clock()]),
                pad_token_id=self.tokenizer.pad_token_id,
                begin_suppress_tokens=[suppress_first] if suppress_first is not None else None,
                output_scores=True, return_dict_in_generate=True,
            )
        seconds = time.perf_counter() - started
        width = batch.input_ids.shape[1]
        generations = []
        for row, prompt_tokens in enumerate(batch.attention_mask.sum(dim=1).tolist()):
            new = out.sequences[row, width:].tolist()
            ended = self.tokenizer.eos_token_id in new
            if ended:
                new = new[: new.index(self.tokenizer.eos_token_id) + 1]
            first_prob = float(torch.softmax(out.scores[0][row].float(), -1)[new[0]]) if new else None
            generations.append(Generation(
                self.tokenizer.decode(new, skip_special_tokens=True).strip(), prompt_tokens, len(new),
                first[0] if first else None, seconds,
                timed_out=seconds > deadlines_s[row] and not ended and len(new) < max_new_tokens,
                first_token_id=new[0] if new else None, first_token_prob=first_prob,
            ))
        return generations


class CTranslate2Runtime:
    """CTranslate2: int8 on the CPU by default (or int8_float16 on a GPU), token by token or in
    batches. `compute_type` picks another (float32, int8_float32, ...; `make bench-drafter`
    compares them)."""

    name = "ctranslate2"

    def __init__(self, ct2_dir: str, device: str = "cpu", threads: Optional[int] = None,
                 compute_type: Optional[str] = None):
        import ctranslate2
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(ct2_dir)
        self.compute_type = compute_type or ("int8" if device == "cpu" else "int8_float16")
        self.generator = ctranslate2.Generator(
            ct2_dir, device=device, compute_type=self.compute_type,
            intra_threads=threads or os.cpu_count() or 1,
        )

    def generate(self, prompt: str, max_new_tokens: int, deadline_s: float, suppress_first: Optional[int] = None) -> Generation:
        started = time.perf_counter()
        ids = self.tokenizer(prompt, add_special_tokens=False).input_ids
        steps = self.generator.generate_tokens(
            self.tokenizer.convert_ids_to_tokens(ids), max_length=max_new_tokens, sampling_topk=1,
            end_token=END_OF_TURN, return_log_prob=True,
            # CTranslate2 suppresses a sequence anywhere, not only first; the token an answer must not
            # start with is the refusal's "I" without a space, which never comes after the first word.
            suppress_sequences=[self.tokenizer.convert_ids_to_tokens([suppress_first])] if suppress_first is not None else None,
        )
        return _stream(self.tokenizer, ((step.token_id, step.log_prob) for step in steps), len(ids), started, deadline_s)

    def generate_batch(self, prompts: Sequence[str], max_new_tokens: int, deadlines_s: Sequence[float],
                       suppress_first: Optional[int] = None) -> List[Generation]:
        """Several prompts in one `generate_batch`; a callback sees every new token, notes the
        first one's time and probability, and stops a row at its own deadline."""
        started = time.perf_counter()
        ids = [self.tokenizer(p, add_special_tokens=False).input_ids for p in prompts]
        rows = [{"new": [], "first": None, "prob": None, "timed_out": False} for _ in prompts]

        def on_step(step) -> bool:
            row = rows[step.batch_id]
            now = time.perf_counter() - started
            if row["first"] is None:
                row["first"] = now
                row["prob"] = math.exp(step.log_prob) if step.log_prob is not None else None
            row["new"].append(step.token_id)
            if now > deadlines_s[step.batch_id]:
                row["timed_out"] = True
                return True
            return False

        self.generator.generate_batch(
            [self.tokenizer.convert_ids_to_tokens(x) for x in ids], max_length=max_new_tokens,
            sampling_topk=1, end_token=END_OF_TURN, include_prompt_in_result=False,
            suppress_sequences=[self.tokenizer.convert_ids_to_tokens([suppress_first])] if suppress_first is not None else None,
            callback=on_step,
        )
        seconds = time.perf_counter() - started
        return [Generation(self.tokenizer.decode(r["new"], skip_special_tokens=True).strip(), len(x),
                           len(r["new"]), r["first"], seconds, r["timed_out"],
                           r["new"][0] if r["new"] else None, r["prob"])
                for r, x in zip(rows, ids)]


class OnnxGenAIRuntime:
    """ONNX Runtime GenAI, int4 weights (the third runtime compared in reports/generator.md)."""

    name = "onnxruntime-genai"

    def __init__(self, onnx_dir: str):
        import onnxruntime_genai as og
        from transformers import AutoTokenizer

        self._og = og
        self.tokenizer = AutoTokenizer.from_pretrained(onnx_dir)
        self.model = og.Model(onnx_dir)

    def generate(self, prompt: str, max_new_tokens: int, deadline_s: float, suppress_first: Optional[int] = None) -> Generation:
        """(`suppress_first` is not supported here: ONNX Runtime GenAI has no per-step logits bias,
        and no first-token probability is reported, so the refusal gate does not apply.)"""
        og = self._og
        started = time.perf_counter()
        ids = self.tokenizer(prompt, add_special_tokens=False).input_ids
        params = og.GeneratorParams(self.model)
        params.set_search_options(max_length=len(ids) + max_new_tokens, do_sample=False)
        generator = og.Generator(self.model, params)
        generator.append_tokens([ids])

        def steps():
            while not generator.is_done():
                generator.generate_next_token()
                yield int(generator.get_next_tokens()[0]), None

        return _stream(self.tokenizer, steps(), len(ids), started, deadline_s)


def _stream(
    tokenizer, steps: Iterator[Tuple[int, Optional[float]]], prompt_tokens: int, started: float, deadline_s: float
) -> Generation:
    """Reads (token id, log probability) steps until they end or the deadline passes (the runtimes
    that decode step by step share this)."""
    new, first, first_prob, timed_out = [], None, None, False
    for token_id, log_prob in steps:
        if first is None:
            first = time.perf_counter() - started
            first_prob = math.exp(log_prob) if log_prob is not None else None
        new.append(token_id)
        if time.perf_counter() - started > deadline_s:
            timed_out = True
            break
    return Generation(
        tokenizer.decode(new, skip_special_tokens=True).strip(), prompt_tokens, len(new),
        first, time.perf_counter() - started, timed_out, new[0] if new else None, first_prob,
    )


def refusal_token(tokenizer) -> int:
    """The refusal's first token ("I"), which no answer in the training data starts with."""
    from bot.generation.prompt import REFUSAL

    return tokenizer(REFUSAL, add_special_tokens=False).input_ids[0]


def generate_batch(runtime, prompts: Sequence[str], max_new_tokens: int, deadlines_s: Sequence[float],
                   suppress_first: Optional[int] = None) -> List[Generation]:
    """A runtime's batch decoding, or its one-prompt decoding in turn when it has none (ONNX Runtime
    GenAI, the tests' stand-ins)."""
    if hasattr(runtime, "generate_batch"):
        return runtime.generate_batch(prompts, max_new_tokens, deadlines_s, suppress_first)
    started, out = time.perf_counter(), []
    for prompt, deadline in zip(prompts, deadlines_s):
        left = deadline - (time.perf_counter() - started)
        if suppress_first is None:  # the stand-ins take no such argument
            out.append(runtime.generate(prompt, max_new_tokens, left))
        else:
            out.append(runtime.generate(prompt, max_new_tokens, left, suppress_first=suppress_first))
    return out


def decode(runtime, prompt: str, max_new_tokens: int, deadline_s: float, refusal_min_prob: float = 0.5) -> Generation:
    """One prompt through decode_batch."""
    return decode_batch(runtime, [prompt], max_new_tokens, [deadline_s], refusal_min_prob)[0]


def decode_batch(runtime, prompts: Sequence[str], max_new_tokens: int, deadlines_s: Sequence[float],
                 refusal_min_prob: float = 0.5) -> List[Generation]:
    """Greedy decoding, except for one choice made on probabilities: refuse, or answer.

    Greedy decoding weighs the refusal's first word against the likeliest single first word of an
    answer, while an answer's probability is spread over many first words ("Yes", "You", "Refunds",
    ...). So greedy refuses whenever the refusal is the likeliest word, at 26% as easily as at 90%:
    the second run refused 39% of answerable questions that way. Here the refusal stands only when
    the model gives it at least `refusal_min_prob` (0.5: more likely than all answers together);
    otherwise the answer is decoded again with the refusal's first word suppressed, within what is
    left of its deadline (the prompts that need it, as one batch). A runtime that reports no
    probability (ONNX Runtime GenAI) stays greedy.
    """
    started = time.perf_counter()
    generations = generate_batch(runtime, prompts, max_new_tokens, deadlines_s)
    again = [i for i, g in enumerate(generations)
             if g.first_token_prob is not None and g.first_token_prob < refusal_min_prob
             and not g.timed_out]
    if not again:
        return generations
    refusal_id = refusal_token(runtime.tokenizer)
    again = [i for i in again if generations[i].first_token_id == refusal_id]
    if not again:
        return generations
    before = time.perf_counter() - started
    redone = generate_batch(runtime, [prompts[i] for i in again], max_new_tokens,
                            [deadlines_s[i] - before for i in again], suppress_first=refusal_id)
    for i, g in zip(again, redone):
        generations[i] = Generation(
            g.text, g.prompt_tokens, g.new_tokens,
            before + g.first_token_s if g.first_token_s is not None else None,
            time.perf_counter() - started, g.timed_out, g.first_token_id,
            generations[i].first_token_prob, refusal_overruled=True,
        )
    return generations


def open_runtime(run_or_model: str, runtime: str = "auto", device: Optional[str] = None,
                 compute_type: Optional[str] = None):
    """A runtime for a run folder (merged/ and ct2-int8/ inside) or a checkpoint / HF id.
    `compute_type` is CTranslate2's (int8 by default on a CPU); with float32 it reads the run's
    ct2-float32/ folder when there is one (an unquantized conversion), else ct2-int8/."""
    path = Path(run_or_model)
    merged = path / "merged" if (path / "merged").is_dir() else path
    ct2 = path / "ct2-int8"
    if runtime == "auto":
        on_gpu = device == "cuda" or (device is None and _cuda())
        runtime = "ctranslate2" if ct2.is_dir() and not on_gpu else "transformers"
    if runtime == "ctranslate2":
        if compute_type == "float32" and (path / "ct2-float32").is_dir():
            ct2 = path / "ct2-float32"
        if not ct2.is_dir():
            raise FileNotFoundError(f"{ct2} is missing: the run was not converted (finetune and shipped.materialize make it)")
        return CTranslate2Runtime(str(ct2), compute_type=compute_type)
    if runtime == "onnxruntime-genai":
        return OnnxGenAIRuntime(str(path / "onnx-int4"))
    if runtime == "transformers":
        return TransformersRuntime(str(merged) if merged.exists() else run_or_model, device)
    raise ValueError(
        f"unknown generator runtime {runtime!r}: auto, transformers, ctranslate2 or onnxruntime-genai"
    )


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
