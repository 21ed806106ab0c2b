"""Model adapters: the one interface the gateway calls, whatever serves the model.

``ModelAdapter.predict(rows) -> outputs`` takes a batch of feature rows (mappings) and returns one
:class:`Output` per row. In-process scikit-learn/joblib models, MLflow pyfunc models, HTTP
upstreams and fallbacks (rules, scripted answers) all look the same to the gateway.

Example:
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]])
    >>> model = LogisticRegression().fit(X, [0, 1, 0, 1])
    >>> adapter = CountingAdapter(SklearnAdapter(model, features={"a": "number", "b": "number"}))
    >>> [o.prediction for o in adapter.predict([{"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 1.0}])]
    [1, 0]
    >>> adapter.calls, adapter.rows
    (1, 2)
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import os
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx
import numpy as np

from airsoc.errors import GatewayError, HashMismatchError, InputError
from airsoc.lineage import ModelVersionView
from airsoc.lineage.integrity import local_path, sha256_file
from airsoc.serving.direct import direct_pipeline

__all__ = [
    "FEATURE_TYPES",
    "AsyncModelAdapter",
    "ChatUpstream",
    "CountingAdapter",
    "HttpAdapter",
    "ModelAdapter",
    "Output",
    "PyfuncAdapter",
    "RulesAdapter",
    "SklearnAdapter",
    "load_adapter",
    "load_callable",
    "tls_context",
]

FEATURE_TYPES = ("number", "integer", "string", "boolean")


@dataclass(frozen=True, slots=True)
class Output:
    """What a model answered for one row: the prediction and, when it has one, a score."""

    prediction: Any
    score: float | None = None


@runtime_checkable
class ModelAdapter(Protocol):
    """Anything that turns a batch of feature rows into one output per row."""

    #: Feature name -> type (``number``, ``integer``, ``string``, ``boolean``); the gateway
    #: rejects rows that do not match before anything reaches the model. None accepts any row.
    features: Mapping[str, str] | None

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[Output]:
        """Return one output per row, in order."""
        ...


@runtime_checkable
class AsyncModelAdapter(ModelAdapter, Protocol):
    """An adapter that can also answer without blocking the event loop (HTTP upstreams)."""

    async def apredict(self, rows: Sequence[Mapping[str, Any]]) -> list[Output]:
        """Return one output per row, in order, awaiting the upstream."""
        ...


class SklearnAdapter:
    """An in-process scikit-learn estimator or pipeline (as loaded from joblib).

    ``score`` is the probability of the positive class for binary classifiers, the highest
    class probability for multi-class ones, and absent for regressors.
    """

    def __init__(self, model: Any, *, features: Mapping[str, str] | None = None) -> None:
        self.model = model
        names = getattr(model, "feature_names_in_", None)
        if features is None and names is not None:
            features = {str(n): "number" for n in names}
        if not features:
            raise InputError(
                "the model does not record its feature names; register the version with an "
                "input schema (feature name -> type)"
            )
        for name, kind in features.items():
            if kind not in FEATURE_TYPES:
                raise InputError(f"feature {name}: type {kind!r} is not one of {FEATURE_TYPES}")
        self.features: Mapping[str, str] | None = dict(features)
        self._names = list(features)
        self._frame = names is not None
        numeric = all(kind in ("number", "integer") for kind in features.values())
        self._dtype: type = float if numeric else object
        self._proba = hasattr(model, "predict_proba")
        # The pipeline called on columns without its per-call table handling, when that gives
        # exactly its outputs (None otherwise: the pipeline is called as usual).
        self._direct = direct_pipeline(model, features) if self._frame else None

    def _direct_call(self, rows: Sequence[Mapping[str, Any]], proba: bool) -> np.ndarray | None:
        direct = self._direct
        if direct is None or not rows:
            return None
        columns = {n: [r[n] for r in rows] for n in self._names}
        if proba:
            return direct.predict_proba(columns, len(rows))
        return direct.predict(columns, len(rows))

    def _data(self, rows: Sequence[Mapping[str, Any]]) -> Any:
        if self._frame:
            import pandas as pd

            return pd.DataFrame([[r[n] for n in self._names] for r in rows], columns=self._names)
        return np.array([[r[n] for n in self._names] for r in rows], dtype=self._dtype)

    def predict_proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Return the model's class probabilities for ``rows`` (one column per class).

        A model without ``predict_proba`` (a regressor) is an :class:`InputError`.
        """
        if not self._proba:
            raise InputError(f"{type(self.model).__name__} gives no class probabilities")
        direct = self._direct_call(rows, proba=True)
        if direct is not None:
            return np.asarray(direct, dtype=float)
        return np.asarray(self.model.predict_proba(self._data(rows)), dtype=float)

    def predict_proba_columns(self, columns: Mapping[str, Any]) -> np.ndarray:
        """Return the class probabilities of rows given column by column (feature name to
        its values), without building a mapping per row (what a monitor's probes send).

        >>> from sklearn.linear_model import LogisticRegression
        >>> model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
        >>> adapter = SklearnAdapter(model, features={"x": "number"})
        >>> adapter.predict_proba_columns({"x": [0.0, 1.0]}).shape
        (2, 2)
        """
        if not self._proba:
            raise InputError(f"{type(self.model).__name__} gives no class probabilities")
        missing = [n for n in self._names if n not in columns]
        if missing:
            raise InputError(f"features {missing} are missing", loc="columns")
        if self._direct is not None and self._names:
            direct = self._direct.predict_proba(columns, len(columns[self._names[0]]))
            if direct is not None:
                return np.asarray(direct, dtype=float)
        if self._frame:
            import pandas as pd

            data: Any = pd.DataFrame({n: columns[n] for n in self._names})
        else:
            data = np.column_stack([np.asarray(columns[n], dtype=self._dtype) for n in self._names])
        return np.asarray(self.model.predict_proba(data), dtype=float)

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[Output]:
        """Return the model's predictions (and scores) for ``rows``."""
        direct = self._direct_call(rows, proba=self._proba)
        if not self._proba:
            answers = direct if direct is not None else self.model.predict(self._data(rows))
            return [Output(_plain(p)) for p in answers]
        proba = direct if direct is not None else self.model.predict_proba(self._data(rows))
        picked = np.asarray(self.model.classes_)[proba.argmax(axis=1)]
        scores = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
        # Whole columns to Python values at once (``tolist`` gives what ``_plain`` gives).
        predictions = picked.tolist() if picked.dtype != object else [_plain(v) for v in picked]
        return [
            Output(p, s)
            for p, s in zip(predictions, np.asarray(scores, dtype=float).tolist(), strict=True)
        ]


class HttpAdapter:
    """A model behind an HTTP upstream speaking the gateway's own wire format.

    The upstream takes ``POST {"rows": [...]}`` and answers ``{"predictions": [...],
    "scores": [...]}`` (scores optional).
    """

    def __init__(
        self, url: str, *, features: Mapping[str, str] | None = None, timeout: float = 10.0
    ) -> None:
        self.url = url
        self.features: Mapping[str, str] | None = dict(features) if features else None
        self.timeout = timeout

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[Output]:
        """Return the upstream's outputs, waiting for it."""
        try:
            response = httpx.post(self.url, json={"rows": list(rows)}, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise GatewayError(f"upstream {self.url} did not answer: {exc}") from exc
        return self._parse(response, len(rows))

    async def apredict(self, rows: Sequence[Mapping[str, Any]]) -> list[Output]:
        """Return the upstream's outputs without blocking the event loop."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout, verify=tls_context()) as client:
                response = await client.post(self.url, json={"rows": list(rows)})
        except httpx.HTTPError as exc:
            raise GatewayError(f"upstream {self.url} did not answer: {exc}") from exc
        return self._parse(response, len(rows))

    def _parse(self, response: httpx.Response, n: int) -> list[Output]:
        if response.status_code != 200:
            raise GatewayError(f"upstream {self.url} answered HTTP {response.status_code}")
        body = response.json()
        predictions = body.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != n:
            raise GatewayError(f"upstream {self.url} did not answer one prediction per row")
        scores = body.get("scores") or [None] * n
        return [Output(p, s) for p, s in zip(predictions, scores, strict=True)]


class RulesAdapter:
    """A rules model: a plain function ``row -> prediction`` (or ``(prediction, score)``)."""

    def __init__(
        self, rule: Callable[[Mapping[str, Any]], Any], *, features: Mapping[str, str] | None = None
    ) -> None:
        self.rule = rule
        self.features: Mapping[str, str] | None = dict(features) if features else None

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[Output]:
        """Return the rule's answer for each row."""
        out = []
        for row in rows:
            answer = self.rule(row)
            if isinstance(answer, tuple):
                out.append(Output(answer[0], None if answer[1] is None else float(answer[1])))
            else:
                out.append(Output(answer))
        return out


class PyfuncAdapter:
    """An MLflow pyfunc model served in process (predictions only, no scores)."""

    def __init__(self, model: Any, *, features: Mapping[str, str] | None = None) -> None:
        self.model = model
        if features is None:
            features = _signature_features(model)
        self.features: Mapping[str, str] | None = dict(features) if features else None

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[Output]:
        """Return the model's prediction for each row."""
        import pandas as pd

        result = self.model.predict(pd.DataFrame(list(rows)))
        values = result.tolist() if hasattr(result, "tolist") else list(result)
        return [Output(_plain(v)) for v in values]


class CountingAdapter:
    """Wraps an adapter and counts the calls and rows that reach it (a test double to ship)."""

    def __init__(self, inner: ModelAdapter) -> None:
        self.inner = inner
        self.features: Mapping[str, str] | None = inner.features
        self.calls = 0
        self.rows = 0
        self._lock = threading.Lock()

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[Output]:
        """Count, then delegate."""
        with self._lock:
            self.calls += 1
            self.rows += len(rows)
        return self.inner.predict(rows)


def load_callable(spec: str, *, base_dir: str | Path | None = None) -> Callable[..., Any]:
    """Return the function a ``path/to/file.py:function`` or ``package.module:function`` names.

    >>> load_callable("json:dumps")([1])
    '[1]'
    """
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise InputError(f"{spec!r} must look like file.py:function or module:function")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not path.exists():
            raise InputError(f"rules file {path} does not exist ({spec})")
        module_spec = importlib.util.spec_from_file_location(f"airsoc_rules_{path.stem}", path)
        assert module_spec is not None
        assert module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise InputError(f"cannot import {target} ({spec}): {exc}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InputError(f"{spec}: {attr} is not a function in {target}")
    return fn  # type: ignore[no-any-return]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Return the TLS context upstream clients share: building one reads the CA bundle, which
    costs tens of milliseconds, too much to pay on every forwarded request.

    >>> tls_context() is tls_context()
    True
    """
    return httpx.create_ssl_context()


def load_adapter(model: ModelVersionView, *, verify: bool = True) -> ModelAdapter:
    """Return an adapter for a registered model version, chosen by its framework.

    ``sklearn``/``joblib``: a local joblib file, checked against the registered sha256 first
    (a mismatch is a ``supply_chain`` signal and the version is not loaded). ``http``: an upstream
    URL. ``mlflow``: a pyfunc model URI (extra ``mlflow``). ``openai``: an OpenAI-compatible chat
    upstream, served by the chat endpoint only.
    """
    features = model.input_schema or None
    where = f"{model.system} {model.version}"
    if model.framework in ("sklearn", "joblib"):
        path = local_path(model.artifact_uri)
        if path is None:
            raise GatewayError(f"{where}: artifact {model.artifact_uri} is not a local file")
        if verify:
            _check_hash(path, model, where)
        import joblib

        return SklearnAdapter(joblib.load(path), features=features)
    if model.framework == "http":
        return HttpAdapter(model.artifact_uri, features=features)
    if model.framework == "mlflow":
        path = local_path(model.artifact_uri)
        if verify and path is not None:
            _check_hash(path, model, where)
        try:
            import mlflow.pyfunc
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise GatewayError(f"{where}: serving MLflow models needs airsoc[mlflow]") from exc
        return PyfuncAdapter(mlflow.pyfunc.load_model(model.artifact_uri), features=features)
    if model.framework == "openai":
        return ChatUpstream(
            model.artifact_uri,
            model=str(model.params.get("model") or model.version),
            api_key_env=model.params.get("api_key_env"),
            where=where,
        )
    raise GatewayError(f"{where}: no adapter for framework {model.framework!r}")


class ChatUpstream:
    """An OpenAI-compatible chat upstream (``<base_url>/chat/completions``); it has no predict."""

    features: Mapping[str, str] | None = None

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key_env: str | None = None,
        where: str = "",
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.where = where or base_url
        self.timeout = timeout

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[Output]:
        """Refuse: a chat model answers on ``POST /v1/chat/completions`` only."""
        raise InputError(f"{self.where} is a chat model; use POST /v1/chat/completions")

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """Forward a chat completion request (``model`` replaced) and return the answer."""
        headers = self._headers()
        url = f"{self.base_url}/chat/completions"
        try:
            async with httpx.AsyncClient(timeout=self.timeout, verify=tls_context()) as client:
                response = await client.post(
                    url, json={**body, "model": self.model}, headers=headers
                )
        except httpx.HTTPError as exc:
            raise GatewayError(f"{self.where}: upstream {url} did not answer: {exc}") from exc
        if response.status_code != 200:
            raise GatewayError(
                f"{self.where}: upstream {url} answered HTTP {response.status_code}: "
                f"{response.text[:200]}"
            )
        answer: dict[str, Any] = response.json()
        return answer

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Forward a streamed chat completion request (``model`` replaced); return its chunks.

        The upstream's answer is checked before this returns (an HTTP error raises
        :class:`GatewayError` here, before anything was sent on); the chunks come from the
        returned iterator, which closes the connection when it ends or is closed."""
        url = f"{self.base_url}/chat/completions"
        client = httpx.AsyncClient(timeout=self.timeout, verify=tls_context())
        try:
            request = client.build_request(
                "POST", url, json={**body, "model": self.model}, headers=self._headers()
            )
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            await client.aclose()
            raise GatewayError(f"{self.where}: upstream {url} did not answer: {exc}") from exc
        if response.status_code != 200:
            text = (await response.aread()).decode("utf-8", "replace")
            await response.aclose()
            await client.aclose()
            raise GatewayError(
                f"{self.where}: upstream {url} answered HTTP {response.status_code}: {text[:200]}"
            )
        return self._chunks(client, response, url)

    async def _chunks(
        self, client: httpx.AsyncClient, response: httpx.Response, url: str
    ) -> AsyncIterator[dict[str, Any]]:
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, comments, event names
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except json.JSONDecodeError:
                    raise GatewayError(
                        f"{self.where}: upstream {url} sent a chunk that is not JSON"
                    ) from None
                if isinstance(chunk, dict):
                    yield chunk
        except httpx.HTTPError as exc:
            raise GatewayError(f"{self.where}: upstream {url} broke off: {exc}") from exc
        finally:
            await response.aclose()
            await client.aclose()


_MLFLOW_TYPES = {
    "double": "number",
    "float": "number",
    "long": "integer",
    "integer": "integer",
    "string": "string",
    "boolean": "boolean",
}


def _signature_features(model: Any) -> dict[str, str] | None:
    """Return the feature schema an MLflow model's signature declares, if it names its columns."""
    schema = getattr(getattr(model, "metadata", None), "get_input_schema", lambda: None)()
    inputs = getattr(schema, "inputs", None)
    if not inputs or any(getattr(c, "name", None) is None for c in inputs):
        return None
    out = {}
    for column in inputs:
        kind = _MLFLOW_TYPES.get(str(getattr(column.type, "name", column.type)).lower())
        if kind is None:
            return None
        out[column.name] = kind
    return out


def _check_hash(path: Path, model: ModelVersionView, where: str) -> None:
    actual = sha256_file(path)
    if actual != model.sha256:
        raise HashMismatchError(
            f"{where}: {path} hashes to {actual}, the registry holds {model.sha256} "
            "(supply_chain); the version is not loaded"
        )


def _plain(value: Any) -> Any:
    """Return a JSON-ready Python value for a numpy scalar."""
    if isinstance(value, np.generic):
        return value.item()
    return value
