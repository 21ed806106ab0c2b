"""The gateway core: an immutable routing snapshot swapped atomically, adapters, client limits.

A request reads the snapshot once and uses only it, so it never sees half a routing change. A
background thread polls the store's routing revision (every ``poll_interval`` seconds, 10 ms by
default) and swaps in a new snapshot, with its adapters already loaded, under a lock; so a change
made by another process (the CLI, a playbook worker) takes effect within milliseconds.

Example:
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.lineage import register_system, register_model_version
    >>> from airsoc.serving.adapters import SklearnAdapter
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp()))
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = register_system(s, clock=clock, actor="a", name="fraud", kind="tabular-classifier",
    ...                         owner="risk")
    ...     _ = register_model_version(s, clock=clock, actor="ci", system="fraud", version="v1",
    ...                                artifact_uri="mem://v1", sha256="1" * 64)
    >>> model = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    >>> gateway = Gateway(store=store, clock=clock,
    ...                   adapter_factory=lambda m: SklearnAdapter(model, features={"x": "number"}))
    >>> gateway.promote("fraud", "v1", actor="ci", reason="first release").primary_version
    'v1'
    >>> gateway.snapshot.routes["fraud"].primary.version
    'v1'
    >>> gateway.close(); store.close()
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable, KeysView, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import Connection

from airsoc import lineage
from airsoc.clock import Clock
from airsoc.errors import (
    AirsocError,
    ClientBlockedError,
    GatewayError,
    InputError,
    NotFoundError,
    RateLimitedError,
)
from airsoc.lineage import ModelVersionView
from airsoc.lineage.config import GuardConfig
from airsoc.serving import control
from airsoc.serving.adapters import ModelAdapter, RulesAdapter, load_adapter, load_callable
from airsoc.serving.control import RouteView
from airsoc.serving.guard import ChatGuard, shared_guard
from airsoc.serving.models import RoutingRevisionRow
from airsoc.serving.retrieval import RetrievalView, list_retrieval
from airsoc.store import Store
from airsoc.telemetry.log import EventLog

__all__ = [
    "ClientRule",
    "Gateway",
    "LoadedVersion",
    "Route",
    "RoutingSnapshot",
    "canary_bucket",
    "validate_rows",
]

logger = logging.getLogger("airsoc.serving")

_T = TypeVar("_T")
_MAX_BUCKETS = 100_000
AdapterFactory = Callable[[ModelVersionView], ModelAdapter]


@dataclass(frozen=True, slots=True)
class LoadedVersion:
    """A model version with its adapter, or the reason it could not be loaded."""

    version: str
    adapter: ModelAdapter | None
    error: str | None = None

    def require(self) -> ModelAdapter:
        """Return the adapter, or raise why the version cannot serve."""
        if self.adapter is None:
            raise GatewayError(f"model version {self.version} cannot serve: {self.error}")
        return self.adapter


@dataclass(frozen=True, slots=True)
class Route:
    """The routing of one system inside a snapshot; never changed once built."""

    system: str
    mode: str
    revision: int
    primary: LoadedVersion | None
    candidate: LoadedVersion | None = None
    share: float = 0.0
    fallback: Mapping[str, Any] | None = None
    rules: ModelAdapter | None = None

    @property
    def features(self) -> Mapping[str, str] | None:
        """Return the feature schema requests are checked against (the primary version's)."""
        for loaded in (self.primary, self.candidate):
            if loaded is not None and loaded.adapter is not None:
                return loaded.adapter.features
        return None


@dataclass(frozen=True, slots=True)
class ClientRule:
    """A client's block or rate limit, as the gateway applies it."""

    blocked: bool = False
    rate_per_second: float | None = None
    burst: int | None = None


@dataclass(frozen=True, slots=True)
class RoutingSnapshot:
    """Every system's route and every client rule at one revision."""

    revision: int
    routes: Mapping[str, Route] = field(default_factory=dict)
    clients: Mapping[str, ClientRule] = field(default_factory=dict)
    #: Retrieval controls of RAG systems that have one (see :mod:`airsoc.serving.retrieval`).
    retrieval: Mapping[str, RetrievalView] = field(default_factory=dict)


def canary_bucket(request_id: str) -> float:
    """Return a uniform number in [0, 1) fixed by the request id (same id, same arm).

    >>> canary_bucket("req-1") == canary_bucket("req-1"), 0 <= canary_bucket("x") < 1
    (True, True)
    """
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def validate_rows(
    payload: Any, features: Mapping[str, str] | None, *, max_rows: int
) -> list[dict[str, Any]]:
    """Return the rows of a predict body, or raise an :class:`InputError` naming the bad spot.

    The body holds the rows either as a list of objects (``{"rows": [{feature: value}, ...]}``)
    or column by column (``{"columns": {feature: [value, ...]}}``).

    >>> validate_rows({"rows": [{"x": 1.5}]}, {"x": "number"}, max_rows=10)
    [{'x': 1.5}]
    >>> validate_rows({"columns": {"x": [1.5, 3]}}, {"x": "number"}, max_rows=10)
    [{'x': 1.5}, {'x': 3}]
    >>> validate_rows({"rows": [{"x": "a"}]}, {"x": "number"}, max_rows=10)
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: rows[0].x: expected a number, got 'a'
    """
    if not isinstance(payload, dict) or ("rows" in payload) == ("columns" in payload):
        raise InputError(
            'the body must be a JSON object with "rows": [{feature: value, ...}] or with '
            '"columns": {feature: [value, ...]}'
        )
    unknown = set(payload) - {"rows", "columns"}
    if unknown:
        raise InputError(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    if "columns" in payload:
        return _column_rows(payload["columns"], features, max_rows=max_rows)
    rows = payload["rows"]
    if not isinstance(rows, list) or not rows:
        raise InputError('"rows" must be a non-empty list of objects', loc="rows")
    if len(rows) > max_rows:
        raise InputError(f"at most {max_rows} rows per request, got {len(rows)}", loc="rows")
    if features is not None and _well_typed(rows, features):
        return rows
    expected = set(features) if features is not None else None
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InputError(f"expected an object, got {type(row).__name__}", loc=f"rows[{i}]")
        if features is None or expected is None:
            continue
        if row.keys() != expected:
            raise InputError(_mismatch(row.keys(), expected), loc=f"rows[{i}]")
        for name, kind in features.items():
            value = row[name]
            if not _is_type(value, kind):
                raise InputError(
                    f"expected {'an' if kind[0] in 'ai' else 'a'} {kind}, got {value!r}",
                    loc=f"rows[{i}].{name}",
                )
    return rows


def _mismatch(given: KeysView[str], expected: set[str]) -> str:
    """Say which features a row (or the columns) lacks and which it has that are unknown.

    >>> _mismatch({"amount": 1, "agee": 2}.keys(), {"amount", "age"})
    'missing feature(s) age; unknown feature(s) agee (expected age, amount)'
    """
    missing = sorted(expected - given)
    extra = sorted(given - expected)
    parts = []
    if missing:
        parts.append(f"missing feature(s) {', '.join(missing)}")
    if extra:
        parts.append(f"unknown feature(s) {', '.join(extra)}")
    return "; ".join(parts) + f" (expected {', '.join(sorted(expected))})"


def _column_rows(
    columns: Any, features: Mapping[str, str] | None, *, max_rows: int
) -> list[dict[str, Any]]:
    """Return the rows of a predict body given column by column (``{"columns": {feature:
    [value, ...]}}``, the same rows in fewer bytes), checked as rows are; a bad value is named
    by its column and place (``columns.amount[3]``).

    >>> _column_rows({"x": [1.5, 2], "kind": ["a", "b"]}, {"x": "number", "kind": "string"},
    ...              max_rows=10)
    [{'x': 1.5, 'kind': 'a'}, {'x': 2, 'kind': 'b'}]
    >>> _column_rows({"x": [1.5, "a"]}, {"x": "number"}, max_rows=10)
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: columns.x[1]: expected a number, got 'a'
    """
    if not isinstance(columns, dict) or not columns:
        raise InputError(
            '"columns" must be a non-empty object of feature name to list of values',
            loc="columns",
        )
    for name, values in columns.items():
        if not isinstance(values, list):
            raise InputError(
                f"expected a list of values, got {type(values).__name__}", loc=f"columns.{name}"
            )
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        sizes = ", ".join(f"{name}: {len(values)}" for name, values in columns.items())
        raise InputError(f"every column must have one length, got {sizes}", loc="columns")
    (n,) = lengths
    if n == 0:
        raise InputError("the columns hold no rows", loc="columns")
    if n > max_rows:
        raise InputError(f"at most {max_rows} rows per request, got {n}", loc="columns")
    names = list(columns)
    if features is not None:
        expected = set(features)
        if columns.keys() != expected:
            raise InputError(_mismatch(columns.keys(), expected), loc="columns")
        names = list(features)
        for name, kind in features.items():
            values = columns[name]
            if not _typed_column(values, kind):
                for i, value in enumerate(values):
                    if not _is_type(value, kind):
                        raise InputError(
                            f"expected {'an' if kind[0] in 'ai' else 'a'} {kind}, got {value!r}",
                            loc=f"columns.{name}[{i}]",
                        )
    values = [columns[n] for n in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


#: The value types each feature type takes (a number is also a finite float).
_TYPES: dict[str, frozenset[type]] = {
    "number": frozenset({float, int}),
    "integer": frozenset({int}),
    "string": frozenset({str}),
    "boolean": frozenset({bool}),
}


def _well_typed(rows: list[Any], features: Mapping[str, str]) -> bool:
    """Return whether every row is an object with exactly the features, each of its type,
    checked column by column at C speed (False sends the rows through the check that names
    the first bad spot).

    >>> _well_typed([{"x": 1.5}, {"x": 2}], {"x": "number"})
    True
    >>> _well_typed([{"x": float("nan")}], {"x": "number"})
    False
    >>> _well_typed([{"y": 1}], {"x": "number"})
    False
    """
    expected = features.keys()
    if not all(type(row) is dict and row.keys() == expected for row in rows):
        return False
    return all(_typed_column([row[name] for row in rows], kind) for name, kind in features.items())


def _typed_column(column: list[Any], kind: str) -> bool:
    """Return whether every value of ``column`` is of the feature type ``kind``, at C speed."""
    types = set(map(type, column))
    if not types <= _TYPES.get(kind, frozenset()):
        return False
    try:
        return float not in types or all(map(math.isfinite, column))
    except OverflowError:  # an integer too large for a float: fine, the slow path says so
        return False


def _is_type(value: Any, kind: str) -> bool:
    t = type(value)
    if kind == "number":
        return (t is float and math.isfinite(value)) or t is int
    if kind == "integer":
        return t is int
    if kind == "string":
        return t is str
    return t is bool


class Gateway:
    """The serving gateway: routing snapshot, adapters, controls, client limits and logging.

    ``app`` (see :func:`airsoc.serving.app.create_app`) serves it over HTTP; :meth:`promote` and
    :meth:`change` (any control: rollback, fallback, isolate, ...) change the persisted routing
    and apply it at once in this process; other gateway processes see it within
    ``poll_interval``.

    Clients are told apart by ``client_id_header`` (set by an authenticating proxy in front of
    the gateway); with ``None`` the peer address is the client id.
    """

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        event_log: EventLog | None = None,
        adapter_factory: AdapterFactory = load_adapter,
        poll_interval: float = 0.01,
        max_body_bytes: int = 1 << 20,
        max_rows: int = 1000,
        default_rate_per_second: float | None = None,
        base_dir: str | Path | None = None,
        owns_event_log: bool = False,
        client_id_header: str | None = "x-client-id",
        guards: Mapping[str, GuardConfig] | None = None,
        guard: ChatGuard | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.event_log = event_log
        self.adapter_factory = adapter_factory
        self.poll_interval = poll_interval
        self.max_body_bytes = max_body_bytes
        self.max_rows = max_rows
        self.default_rate_per_second = default_rate_per_second
        self.base_dir = Path(base_dir) if base_dir else None
        self._owns_event_log = owns_event_log
        self.client_id_header = client_id_header.lower() if client_id_header else None
        self._guards: Mapping[str, GuardConfig] = MappingProxyType(dict(guards or {}))
        self._guard = guard
        self._snapshot = RoutingSnapshot(revision=-1)
        self._swap_lock = threading.Lock()
        self._adapters: dict[tuple[str, str, str], LoadedVersion] = {}
        self._rules: dict[str, ModelAdapter] = {}
        self._buckets: dict[str, list[float]] = {}
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.refresh()

    @classmethod
    def open(
        cls,
        *,
        store: Store,
        clock: Clock,
        log_name: str = "gateway",
        log_options: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Gateway:
        """Return a gateway that logs to ``<data-dir>/telemetry`` (log ``log_name``).

        ``log_options`` are the event log's policy (see
        :meth:`airsoc.telemetry.config.TelemetryConfig.log_options`)."""
        log = EventLog(store.settings.telemetry_dir, name=log_name, **(log_options or {}))
        return cls(store=store, clock=clock, event_log=log, owns_event_log=True, **options)

    # ------------------------------------------------------------------ guard

    @property
    def guards(self) -> Mapping[str, GuardConfig]:
        """Return the guard policy of each system that has one (``systems.<name>.guard``)."""
        return self._guards

    def set_guards(self, guards: Mapping[str, GuardConfig]) -> None:
        """Apply new guard policies (a reloaded configuration) to the requests that follow."""
        self._guards = MappingProxyType(dict(guards))

    @property
    def guard(self) -> ChatGuard:
        """Return the detectors the guard policies run with (the process's shared ones unless
        given)."""
        if self._guard is None:
            self._guard = shared_guard()
        return self._guard

    # ------------------------------------------------------------------ snapshot

    @property
    def snapshot(self) -> RoutingSnapshot:
        """Return the current routing snapshot (read it once per request)."""
        return self._snapshot

    def refresh(self, *, force: bool = False) -> bool:
        """Load the routing from the store if its revision moved; return whether it changed."""
        with self._swap_lock:
            with self.store.read() as session:
                revision = control.current_revision(session)
                if revision == self._snapshot.revision and not force:
                    return False
                routes = control.list_routes(session)
                rules = control.list_client_rules(session)
                retrieval = {r.system: r for r in list_retrieval(session)}
                versions = {
                    (r.system, v): lineage.get_model_version(session, system=r.system, version=v)
                    for r in routes
                    for v in (r.primary_version, r.candidate_version)
                    if v is not None
                }
            built = {r.system: self._build_route(r, versions) for r in routes}
            clients = {
                c.client_id: ClientRule(c.blocked, c.rate_per_second, c.burst) for c in rules
            }
            self._snapshot = RoutingSnapshot(
                revision=revision,
                routes=MappingProxyType(built),
                clients=MappingProxyType(clients),
                retrieval=MappingProxyType(retrieval),
            )
            return True

    def start(self) -> None:
        """Start polling the store for routing changes made elsewhere."""
        if self._poller is not None:
            return
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, name="gateway-routing", daemon=True)
        self._poller.start()

    def close(self) -> None:
        """Stop polling and, when the gateway owns its event log, flush and close it."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
            self._poller = None
        if self.event_log is not None and self._owns_event_log:
            self.event_log.close()

    def _poll(self) -> None:
        # One long-lived connection and one primary-key read per tick (about 30 us on SQLite),
        # so polling every few milliseconds costs the request path next to nothing.
        peek: Connection | None = None
        query = f"SELECT revision FROM {RoutingRevisionRow.__tablename__} WHERE id = 1"
        try:
            while not self._stop.wait(self.poll_interval):
                try:
                    if peek is None:
                        peek = self.store.engine.execution_options(
                            airsoc_begin="DEFERRED"
                        ).connect()
                    revision = peek.exec_driver_sql(query).scalar()
                    peek.rollback()
                    if (revision or 0) != self._snapshot.revision:
                        self.refresh()
                except Exception:  # keep serving on the last good snapshot; say so loudly
                    logger.exception("gateway: reading the routing from the store failed")
                    if peek is not None:
                        peek.invalidate()
                        peek.close()
                        peek = None
        finally:
            if peek is not None:
                peek.close()

    def _build_route(
        self, view: RouteView, versions: Mapping[tuple[str, str], ModelVersionView]
    ) -> Route:
        def loaded(version: str | None) -> LoadedVersion | None:
            if version is None:
                return None
            return self._load(versions[(view.system, version)])

        rules = None
        if view.fallback and view.fallback.get("type") == "rules":
            rules = self._load_rules(str(view.fallback.get("path")))
        return Route(
            system=view.system,
            mode=view.mode,
            revision=view.revision,
            primary=loaded(view.primary_version),
            candidate=loaded(view.candidate_version),
            share=view.candidate_share,
            fallback=MappingProxyType(dict(view.fallback)) if view.fallback else None,
            rules=rules,
        )

    def _load(self, model: ModelVersionView) -> LoadedVersion:
        key = (model.system, model.version, model.sha256)
        cached = self._adapters.get(key)
        if cached is not None:
            return cached
        try:
            result = LoadedVersion(model.version, self.adapter_factory(model))
        except AirsocError as exc:
            logger.error("gateway: %s %s cannot be loaded: %s", model.system, model.version, exc)
            result = LoadedVersion(model.version, None, str(exc))
        self._adapters[key] = result
        return result

    def _load_rules(self, spec: str) -> ModelAdapter | None:
        if spec not in self._rules:
            try:
                self._rules[spec] = RulesAdapter(load_callable(spec, base_dir=self.base_dir))
            except AirsocError as exc:
                logger.error("gateway: rules fallback %s cannot be loaded: %s", spec, exc)
                return None
        return self._rules[spec]

    # ------------------------------------------------------------------ clients

    def admit(self, snapshot: RoutingSnapshot, client_id: str) -> None:
        """Raise if ``client_id`` is blocked or over its rate limit; else take one token."""
        rule = snapshot.clients.get(client_id)
        if rule is not None and rule.blocked:
            raise ClientBlockedError(f"client {client_id} is blocked")
        rate = rule.rate_per_second if rule and rule.rate_per_second else None
        rate = rate or self.default_rate_per_second
        if rate is None:
            return
        burst = float(rule.burst if rule and rule.burst else max(rate, 1.0))
        now = self.clock.monotonic()
        bucket = self._buckets.get(client_id)
        if bucket is None:
            if len(self._buckets) >= _MAX_BUCKETS:
                # Many one-off client ids: forget the idle ones (they would be full again).
                idle = [c for c, (_, last) in self._buckets.items() if now - last > 60]
                for c in idle or list(self._buckets)[: _MAX_BUCKETS // 2]:
                    del self._buckets[c]
            bucket = self._buckets[client_id] = [burst, now]
        tokens = min(burst, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            raise RateLimitedError(
                f"client {client_id} is limited to {rate:g} requests per second; retry later"
            )
        bucket[0] = tokens - 1.0

    def route_for(self, snapshot: RoutingSnapshot, system: str) -> Route:
        """Return the route of ``system`` in ``snapshot`` or raise :class:`NotFoundError`."""
        route = snapshot.routes.get(system)
        if route is None:
            raise NotFoundError(f"system {system!r} is not served by this gateway")
        return route

    # ------------------------------------------------------------------ controls

    def promote(self, system: str, version: str, *, actor: str, reason: str) -> RouteView:
        """Serve ``version`` as the primary; return the new route (applied here at once)."""
        return self.change(
            control.promote, system=system, version=version, actor=actor, reason=reason
        )

    def change(self, fn: Callable[..., _T], **kwargs: Any) -> _T:
        """Return what the routing change ``fn(session, clock=..., **kwargs)`` returns, applied
        here at once (other gateways see it within ``poll_interval``).

        ``fn`` is a change of :mod:`airsoc.serving.control` or :mod:`airsoc.serving.retrieval`;
        the table of operations (:mod:`airsoc.runtime.operations`) names them all.
        """
        with self.store.transaction() as session:
            result = fn(session, clock=self.clock, **kwargs)
        self.refresh()
        return result
