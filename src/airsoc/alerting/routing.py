"""The routing tree, as in Alertmanager: inherited defaults, matchers, ``continue``.

An alert enters at the root (which matches everything) and goes down to the first matching child,
recursively; with ``continue: true`` on a child, the next siblings are tried as well. A node whose
children all miss takes the alert itself. Unset ``receiver``, ``group_by`` and intervals are
inherited from the parent.

Example:
    >>> from airsoc.alerting.config import RouteConfig
    >>> tree = build_route_tree(RouteConfig.model_validate({
    ...     "receiver": "ml-oncall", "group_by": ["system"],
    ...     "routes": [{"matchers": ['severity =~ "sev1|sev2"'], "receiver": "pager",
    ...                 "continue": True},
    ...                {"matchers": ["system = fraud"], "receiver": "risk"}]}))
    >>> [r.receiver for r in tree.match({"severity": "sev1", "system": "fraud"})]
    ['pager', 'risk']
    >>> [r.receiver for r in tree.match({"severity": "sev4"})]
    ['ml-oncall']
    >>> tree.match({"severity": "sev2"})[0].group_by
    ('system',)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from airsoc.alerting.config import RouteConfig
from airsoc.alerting.matchers import Matcher, matches_all, parse_matchers

__all__ = [
    "DEFAULT_GROUP_INTERVAL",
    "DEFAULT_GROUP_WAIT",
    "DEFAULT_REPEAT_INTERVAL",
    "Route",
    "build_route_tree",
    "group_labels",
]

DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)
_ALL = "..."


@dataclass
class Route:
    """A node of the tree with every inherited value resolved."""

    id: str
    receiver: str
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    routes: list[Route] = field(default_factory=list)

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """Return the routes (leaves of the walk) that take an alert with ``labels``."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            if matched:
                found.extend(matched)
                if not child.continue_:
                    break
        return found or [self]

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Route]]:
        """Yield every node with its depth, parents first."""
        yield depth, self
        for child in self.routes:
            yield from child.walk(depth + 1)

    def describe(self) -> str:
        """Return one line: matchers, receiver, grouping and timings."""
        matchers = "{" + ", ".join(str(m) for m in self.matchers) + "}" if self.matchers else "*"
        extra = " continue" if self.continue_ else ""
        return (
            f"{matchers} -> {self.receiver} group_by=[{', '.join(self.group_by)}] "
            f"wait={_fmt(self.group_wait)} interval={_fmt(self.group_interval)} "
            f"repeat={_fmt(self.repeat_interval)}{extra}"
        )


def _fmt(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def build_route_tree(config: RouteConfig) -> Route:
    """Return the tree of ``config`` with inherited values filled in.

    The root must name a receiver (``AirsocConfig.reference_issues`` reports it otherwise).
    """
    return _build(config, None, "0")


def _build(config: RouteConfig, parent: Route | None, route_id: str) -> Route:
    def inherit(
        value: timedelta | None, inherited: timedelta | None, default: timedelta
    ) -> timedelta:
        if value is not None:
            return value
        return inherited if inherited is not None else default

    group_by = config.group_by if config.group_by is not None else None
    node = Route(
        id=route_id,
        receiver=config.receiver or (parent.receiver if parent else ""),
        group_by=tuple(group_by) if group_by is not None else (parent.group_by if parent else ()),
        group_wait=inherit(
            config.group_wait, parent.group_wait if parent else None, DEFAULT_GROUP_WAIT
        ),
        group_interval=inherit(
            config.group_interval, parent.group_interval if parent else None, DEFAULT_GROUP_INTERVAL
        ),
        repeat_interval=inherit(
            config.repeat_interval,
            parent.repeat_interval if parent else None,
            DEFAULT_REPEAT_INTERVAL,
        ),
        matchers=parse_matchers(config.matchers),
        continue_=config.continue_,
    )
    node.routes = [_build(c, node, f"{route_id}.{i}") for i, c in enumerate(config.routes)]
    return node


def group_labels(route: Route, labels: Mapping[str, str]) -> dict[str, str]:
    """Return the labels an alert is grouped by on ``route`` (``...`` groups by all labels).

    >>> r = Route("0", "x", ("system",), DEFAULT_GROUP_WAIT, DEFAULT_GROUP_INTERVAL,
    ...           DEFAULT_REPEAT_INTERVAL)
    >>> group_labels(r, {"system": "fraud", "monitor": "m"})
    {'system': 'fraud'}
    """
    if _ALL in route.group_by:
        return dict(sorted(labels.items()))
    return {k: labels[k] for k in route.group_by if k in labels}
