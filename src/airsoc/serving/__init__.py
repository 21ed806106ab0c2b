"""The serving gateway: an ASGI proxy in front of every system's model, with routing modes
(primary, canary, shadow, fallback, isolated), containment controls, client limits and logging.
"""

from __future__ import annotations

from airsoc.serving.adapters import (
    AsyncModelAdapter,
    ChatUpstream,
    CountingAdapter,
    HttpAdapter,
    ModelAdapter,
    Output,
    RulesAdapter,
    SklearnAdapter,
    load_adapter,
)
from airsoc.serving.app import create_app
from airsoc.serving.control import (
    ROUTING_MODES,
    ClientRuleView,
    HandoffView,
    RouteView,
    block_client,
    get_route,
    isolate,
    limit_client,
    list_handoffs,
    list_routes,
    promote,
    restore,
    rollback,
    set_canary,
    set_fallback,
    set_shadow,
    unblock_client,
)
from airsoc.serving.gateway import Gateway, RoutingSnapshot
from airsoc.serving.retrieval import (
    RetrievalView,
    disable_retrieval,
    enable_retrieval,
    get_retrieval,
    list_retrieval,
    remove_document,
    restore_document,
)

__all__ = [
    "ROUTING_MODES",
    "AsyncModelAdapter",
    "ChatUpstream",
    "ClientRuleView",
    "CountingAdapter",
    "Gateway",
    "HandoffView",
    "HttpAdapter",
    "ModelAdapter",
    "Output",
    "RetrievalView",
    "RouteView",
    "RoutingSnapshot",
    "RulesAdapter",
    "SklearnAdapter",
    "block_client",
    "create_app",
    "disable_retrieval",
    "enable_retrieval",
    "get_retrieval",
    "get_route",
    "isolate",
    "limit_client",
    "list_handoffs",
    "list_retrieval",
    "list_routes",
    "load_adapter",
    "promote",
    "remove_document",
    "restore",
    "restore_document",
    "rollback",
    "set_canary",
    "set_fallback",
    "set_shadow",
    "unblock_client",
]
