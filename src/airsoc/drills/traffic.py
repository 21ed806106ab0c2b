"""Drill traffic: seeded rows for each system of the demo fleet, the clients that send them in
batches through the gateway, and the transforms injectors add (a shifted feature, a broken
logger, an attacking client).

A :class:`TrafficControl` holds one :class:`Stream` per client. Each round of the drill asks it
for the requests due (:meth:`TrafficControl.round`): every stream draws its rows from the
system's generator (with the stream's *mix*, e.g. ``fraud_rate``), then each active
:class:`Transform` for that system may rewrite the frame before it becomes request rows and
delayed labels. Injectors only ever change what is sent; the platform decides the rest.

Example:
    >>> control = TrafficControl(seed=3)
    >>> control.add_stream(Stream(system="fraud-detector", client="checkout", rows_per_hour=120,
    ...                           rows_per_request=20))
    >>> batches = control.round(elapsed_s=0.0, step_s=1800.0)
    >>> [(b.system, b.client, len(b.rows)) for b in batches][:2], len(batches)
    ([('fraud-detector', 'checkout', 20), ('fraud-detector', 'checkout', 20)], 3)
    >>> len(batches[0].labels), sorted(batches[0].rows[0])[:2]
    (20, ['amount', 'card_age_days'])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from airsoc.errors import InputError
from airsoc.fleet.recommender import impressions
from airsoc.fleet.setup import credit_rows, fraud_rows, impression_rows, review_rows
from airsoc.fleet.systems import credit_applications, fraud_transactions, sentiment_reviews

__all__ = [
    "GENERATORS",
    "Generator",
    "Stream",
    "TrafficBatch",
    "TrafficControl",
    "Transform",
]


@dataclass(frozen=True)
class Generator:
    """How a system's traffic is made: a seeded frame of ``n`` rows from the fleet's data
    generator, the request rows of a frame, and each row's ground truth (its delayed label)."""

    make: Callable[..., pd.DataFrame]
    rows: Callable[[pd.DataFrame], list[dict[str, Any]]]
    labels: Callable[[pd.DataFrame], list[Any]]
    mix: tuple[str, ...] = ()


def _impression_labels(frame: pd.DataFrame) -> list[Any]:
    # The storefront reports a click and whether an order followed, for each impression.
    return [
        {"click": int(c), "order": int(o)}
        for c, o in zip(frame["click"], frame["order"], strict=True)
    ]


#: The demo fleet's systems that take rows: how their traffic is generated, and which
#: generator arguments a scenario may set as the stream's ``mix``.
GENERATORS: Mapping[str, Generator] = {
    "fraud-detector": Generator(
        make=fraud_transactions,
        rows=fraud_rows,
        labels=lambda f: [int(y) for y in f["is_fraud"]],
        mix=("fraud_rate", "hard_share"),
    ),
    "credit-scorer": Generator(
        make=credit_applications,
        rows=credit_rows,
        labels=lambda f: [int(y) for y in f["defaulted"]],
        mix=("group_b_share", "bias_against_b"),
    ),
    "sentiment-model": Generator(
        make=sentiment_reviews,
        rows=review_rows,
        labels=lambda f: [int(y) for y in f["positive"]],
    ),
    "recommender": Generator(
        make=impressions,
        rows=impression_rows,
        labels=_impression_labels,
        mix=("engagement", "click_logging"),
    ),
}


@dataclass
class Stream:
    """One client sending one system rows: ``rows_per_hour`` on the simulated clock, in
    requests of ``rows_per_request`` rows, drawn with the generator arguments ``mix``."""

    system: str
    client: str
    rows_per_hour: float
    rows_per_request: int = 50
    mix: dict[str, float] = field(default_factory=dict)
    labels: bool = True
    until_s: float | None = None
    source: Callable[[np.random.Generator, int], pd.DataFrame] | None = None

    def __post_init__(self) -> None:
        if self.system not in GENERATORS and self.source is None:
            raise InputError(
                f"no traffic generator for system {self.system!r}; "
                f"choose from {', '.join(sorted(GENERATORS))}",
                loc="system",
            )


@dataclass
class TrafficBatch:
    """One request's worth of traffic before it is sent: the frame, who sends it, and when."""

    system: str
    client: str
    frame: pd.DataFrame
    elapsed_s: float
    labels_enabled: bool = True

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Return the request rows."""
        return GENERATORS[self.system].rows(self.frame)

    @property
    def labels(self) -> list[Any]:
        """Return each row's ground truth, as the label sender posts it later."""
        return GENERATORS[self.system].labels(self.frame)


@dataclass
class Transform:
    """A change to one system's traffic from ``start_s`` (to ``until_s``), for every client or
    only ``client``; ``apply`` gets the batch and the fraction of its ramp done (0 to 1)."""

    name: str
    system: str
    apply: Callable[[TrafficBatch, float], TrafficBatch]
    start_s: float
    ramp_s: float = 0.0
    until_s: float | None = None
    client: str | None = None

    def progress(self, elapsed_s: float) -> float:
        """Return how far the ramp is at ``elapsed_s`` (1 when there is no ramp)."""
        if self.ramp_s <= 0:
            return 1.0
        return min(1.0, max(0.0, (elapsed_s - self.start_s) / self.ramp_s))

    def active(self, batch: TrafficBatch) -> bool:
        """Return whether this transform applies to ``batch``."""
        return (
            batch.system == self.system
            and batch.elapsed_s >= self.start_s
            and (self.until_s is None or batch.elapsed_s < self.until_s)
            and (self.client is None or batch.client == self.client)
        )


class TrafficControl:
    """The drill's clients and the transforms injected into their traffic."""

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self.streams: list[Stream] = []
        self.transforms: list[Transform] = []
        self._rng = np.random.default_rng(seed)
        self._carry: dict[int, float] = {}

    def add_stream(self, stream: Stream) -> None:
        """Add a client sending traffic from the next round on."""
        self.streams.append(stream)

    def add_transform(self, transform: Transform) -> None:
        """Apply ``transform`` to the matching traffic from its ``start_s`` on."""
        self.transforms.append(transform)

    def set_mix(self, system: str, **mix: float) -> None:
        """Change the generator arguments of every stream of ``system`` (a seasonal shift, a
        campaign raising the fraud rate)."""
        allowed = GENERATORS[system].mix
        for key in mix:
            if key not in allowed:
                raise InputError(
                    f"{system} traffic has no mix argument {key!r}; "
                    f"choose from {', '.join(allowed) or 'none'}",
                    loc=key,
                )
        for stream in self.streams:
            if stream.system == system:
                stream.mix.update(mix)

    def scale(self, factor: float) -> None:
        """Multiply every stream's rate by ``factor`` (tests run drills at reduced scale)."""
        for stream in self.streams:
            stream.rows_per_hour *= factor

    def round(self, *, elapsed_s: float, step_s: float) -> list[TrafficBatch]:
        """Return the requests due in the ``step_s`` seconds starting at ``elapsed_s``."""
        out: list[TrafficBatch] = []
        for i, stream in enumerate(self.streams):
            if stream.until_s is not None and elapsed_s >= stream.until_s:
                continue
            due = stream.rows_per_hour * step_s / 3600 + self._carry.get(i, 0.0)
            requests = math.floor(due / stream.rows_per_request)
            self._carry[i] = due - requests * stream.rows_per_request
            if requests <= 0:
                continue
            n = requests * stream.rows_per_request
            seed = int(self._rng.integers(0, 2**31 - 1))
            if stream.source is not None:
                frame = stream.source(np.random.default_rng(seed), n)
            else:
                frame = GENERATORS[stream.system].make(n, seed=seed, **stream.mix)
            for r in range(requests):
                part = frame.iloc[r * stream.rows_per_request : (r + 1) * stream.rows_per_request]
                batch = TrafficBatch(
                    system=stream.system,
                    client=stream.client,
                    frame=part.reset_index(drop=True),
                    elapsed_s=elapsed_s,
                    labels_enabled=stream.labels,
                )
                for transform in self.transforms:
                    if transform.active(batch):
                        batch = transform.apply(batch, transform.progress(elapsed_s))
                out.append(batch)
        return out
