"""The gateway's OpenAPI 3.1 document, served at ``/openapi.json``.

It is written from what the gateway enforces, and from the routing it serves now: every routed
system whose model declares its features gets its own ``predict`` path whose rows name exactly
those features with their types, so a client (or a fuzzer) knows what a model accepts. The
templated path documents the rest. Strings anywhere in a body hold no control characters (the
gateway refuses them), and JSON may nest at most ``max_json_depth`` deep.

Example:
    >>> doc = gateway_openapi({"fraud": {"amount": "number", "hour": "integer"}}, max_rows=10)
    >>> sorted(doc["paths"])[:3]
    ['/healthz', '/openapi.json', '/v1/chat/completions']
    >>> rows = doc["paths"]["/v1/systems/fraud/predict"]["post"]["requestBody"]
    >>> schema = rows["content"]["application/json"]["schema"]["properties"]["rows"]
    >>> schema["items"]["required"], schema["maxItems"]
    (['amount', 'hour'], 10)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airsoc.types import TEXT_PATTERN

__all__ = ["gateway_openapi"]

_TEXT = {"type": "string", "pattern": TEXT_PATTERN}
_NAME = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": TEXT_PATTERN}
_FEATURE_TYPES: Mapping[str, dict[str, Any]] = {
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "string": _TEXT,
    "boolean": {"type": "boolean"},
}

_SCHEMAS: dict[str, Any] = {
    "Json": {
        "description": "Any JSON value whose strings and keys hold no control characters",
        "anyOf": [
            _TEXT,
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
            {"type": "array", "items": {"$ref": "#/components/schemas/Json"}},
            {
                "type": "object",
                "propertyNames": {"pattern": TEXT_PATTERN},
                "additionalProperties": {"$ref": "#/components/schemas/Json"},
            },
        ],
    },
    "Error": {
        "type": "object",
        "description": "Every error but the chat endpoint's: a stable code, a message, a place",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "loc": _TEXT},
    },
    "OpenAIError": {
        "type": "object",
        "description": "The chat endpoint's errors, in OpenAI's shape",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "code": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                },
            }
        },
    },
    "PredictAnswer": {
        "type": "object",
        "required": ["request_id", "system", "version", "mode", "role", "predictions", "scores"],
        "properties": {
            "request_id": {"type": "string"},
            "system": {"type": "string"},
            "version": {"type": ["string", "null"], "description": "null when a fallback answered"},
            "mode": {"type": "string"},
            "role": {"type": "string", "enum": ["primary", "canary", "fallback"]},
            "predictions": {"type": "array"},
            "scores": {"type": ["array", "null"], "items": {"type": ["number", "null"]}},
            "fallback": {"type": "string", "enum": ["rules", "scripted", "human_handoff"]},
            "message": {"type": "string"},
        },
    },
    "LabelsRequest": {
        "type": "object",
        "required": ["labels"],
        "properties": {
            "labels": {
                "type": "array",
                "minItems": 1,
                "maxItems": 10_000,
                "items": {
                    "type": "object",
                    "required": ["request_id", "label"],
                    "properties": {
                        "request_id": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 100,
                            "pattern": TEXT_PATTERN,
                        },
                        "label": {"$ref": "#/components/schemas/Json"},
                        "row_index": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                    },
                    "additionalProperties": {"$ref": "#/components/schemas/Json"},
                    "propertyNames": {"pattern": TEXT_PATTERN},
                },
            }
        },
        "additionalProperties": {"$ref": "#/components/schemas/Json"},
        "propertyNames": {"pattern": TEXT_PATTERN},
    },
    "LabelsAnswer": {
        "type": "object",
        "required": ["accepted"],
        "properties": {"accepted": {"type": "integer", "minimum": 1}},
    },
    "ChatRequest": {
        "type": "object",
        "description": "OpenAI's chat completion request; other keys go to the upstream model",
        "required": ["model", "messages"],
        "properties": {
            "model": {**_NAME, "description": "The system to answer"},
            "messages": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["role"],
                    "properties": {
                        "role": _TEXT,
                        "content": {"$ref": "#/components/schemas/Json"},
                    },
                    "additionalProperties": {"$ref": "#/components/schemas/Json"},
                    "propertyNames": {"pattern": TEXT_PATTERN},
                },
            },
            "stream": {
                "type": ["boolean", "null"],
                "description": (
                    "true: answer server-sent events in OpenAI's chunk format (text/event-stream),"
                    " ending with data: [DONE]; a guarded stream is cut with finish_reason "
                    "content_filter when a window of its output fails"
                ),
            },
        },
        "additionalProperties": {"$ref": "#/components/schemas/Json"},
        "propertyNames": {"pattern": TEXT_PATTERN},
    },
    "ChatCompletion": {
        "type": "object",
        "required": ["choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string"},
            "model": {"type": "string"},
            "choices": {"type": "array"},
            "usage": {"type": ["object", "null"]},
        },
    },
    "Status": {
        "type": "object",
        "required": ["revision", "systems"],
        "properties": {
            "revision": {"type": "integer"},
            "systems": {"type": "object", "additionalProperties": {"type": "object"}},
            "event_log": {"type": ["object", "null"]},
            "recovered_loss": {"type": "integer"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["ok"],
        "properties": {"ok": {"type": "boolean"}},
    },
}

_HEADERS = [
    {
        "name": "X-Client-ID",
        "in": "header",
        "required": False,
        "description": "Who is calling (client blocks and rate limits apply to it)",
        "schema": {"type": "string", "maxLength": 200},
    },
    {
        "name": "X-Request-ID",
        "in": "header",
        "required": False,
        "description": "The caller's request id (the gateway makes one up otherwise)",
        "schema": {"type": "string", "minLength": 1, "maxLength": 100},
    },
]

_ERRORS = {
    "400": "The body is not JSON",
    "403": "The client is blocked",
    "404": "No such system is routed",
    "413": "The body is larger than the gateway accepts",
    "422": "A value is not acceptable (loc names it), or JSON nests too deep",
    "429": "The client is over its rate limit",
    "502": "The model failed",
    "503": "The system is isolated, or has no serving version",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(schema: str, *statuses: str) -> dict[str, Any]:
    return {s: _json(_ref(schema), _ERRORS[s]) for s in statuses}


def _rows(features: Mapping[str, str] | None, max_rows: int) -> dict[str, Any]:
    if features is None:
        item: dict[str, Any] = {
            "type": "object",
            "propertyNames": {"pattern": TEXT_PATTERN},
            "additionalProperties": _ref("Json"),
        }
    else:
        item = {
            "type": "object",
            "properties": {
                name: _FEATURE_TYPES.get(kind, {"type": "boolean"})
                for name, kind in features.items()
            },
            "required": sorted(features),
            "additionalProperties": False,
        }
    return {
        "type": "object",
        "required": ["rows"],
        "properties": {
            "rows": {"type": "array", "minItems": 1, "maxItems": max_rows, "items": item}
        },
        "additionalProperties": False,
    }


def _predict(
    features: Mapping[str, str] | None, max_rows: int, *, templated: bool
) -> dict[str, Any]:
    parameters = list(_HEADERS)
    if templated:
        parameters.insert(0, {"name": "system", "in": "path", "required": True, "schema": _NAME})
    what = "a routed system" if templated else "this system (rows carry exactly its features)"
    return {
        "post": {
            "summary": f"Answer rows from {what}",
            "description": (
                "The routed version answers (or the canary, by request id; or the fallback while "
                "the system is in fallback: 202 for a human hand-off). The rows may also come "
                'column by column, {"columns": {feature: [value, ...]}}, every column of one '
                "length and each value of its feature's type (the schema below gives the rows "
                "form only: JSON Schema cannot say that lists have one length)."
            ),
            "parameters": parameters,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _rows(features, max_rows)}},
            },
            "responses": {
                "200": _json(_ref("PredictAnswer"), "The predictions, one per row"),
                "202": _json(_ref("PredictAnswer"), "Handed to a person (human hand-off)"),
                **_errors("Error", "400", "403", "404", "413", "422", "429", "502", "503"),
            },
        }
    }


def gateway_openapi(
    systems: Mapping[str, Mapping[str, str] | None], *, max_rows: int, version: str = "1"
) -> dict[str, Any]:
    """Return the OpenAPI document of a gateway serving ``systems`` (name to its features, or
    None when its model does not say) with at most ``max_rows`` rows per request."""
    paths: dict[str, Any] = {
        "/v1/systems/{system}/predict": _predict(None, max_rows, templated=True),
    }
    for name, features in sorted(systems.items()):
        if features is not None and "/" not in name:
            paths[f"/v1/systems/{name}/predict"] = _predict(features, max_rows, templated=False)
    paths["/v1/systems/{system}/labels"] = {
        "post": {
            "summary": "Record ground-truth labels that arrived later, by request id",
            "description": (
                'The labels may also come column by column, {"columns": {"request_id": [...], '
                '"row_index": [...], "label": [...]}} (row_index optional), every column of '
                "one length (the schema below gives the list form only: JSON Schema cannot "
                "say that lists have one length)."
            ),
            "parameters": [
                {"name": "system", "in": "path", "required": True, "schema": _NAME},
                *_HEADERS,
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("LabelsRequest")}},
            },
            "responses": {
                "202": _json(_ref("LabelsAnswer"), "The labels were accepted"),
                **_errors("Error", "400", "403", "404", "413", "422", "429"),
            },
        }
    }
    paths["/v1/chat/completions"] = {
        "post": {
            "summary": "Answer an OpenAI chat completion from the system named by model",
            "parameters": list(_HEADERS),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ChatRequest")}},
            },
            "responses": {
                "200": {
                    "description": (
                        "The completion (a chat.completion object, or with stream: true, "
                        "chat.completion.chunk events). A turn the system's guard refuses is "
                        "answered here too: the policy's message with finish_reason "
                        "content_filter and the header X-Airsoc-Guard: blocked"
                    ),
                    "headers": {
                        "X-Airsoc-Guard": {
                            "description": (
                                "What the guard did: allowed, logged, redacted, blocked, "
                                "fail_open or fail_closed (absent without a guard policy)"
                            ),
                            "schema": {"type": "string"},
                        }
                    },
                    "content": {
                        "application/json": {"schema": _ref("ChatCompletion")},
                        "text/event-stream": {
                            "schema": {
                                "type": "string",
                                "description": "data: <chat.completion.chunk JSON> events",
                            }
                        },
                    },
                },
                **_errors("OpenAIError", "400", "403", "404", "413", "422", "429", "502", "503"),
            },
        }
    }
    paths["/v1/status"] = {
        "get": {
            "summary": "Return the routing this gateway serves and its event log counts",
            "responses": {"200": _json(_ref("Status"), "Routing and telemetry counts")},
        }
    }
    paths["/healthz"] = {
        "get": {
            "summary": "Return ok while the gateway answers",
            "responses": {"200": _json(_ref("Health"), "The gateway answers")},
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "summary": "Return this document",
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document")},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "airsoc gateway",
            "version": version,
            "description": (
                "The serving gateway in front of every model. Errors answer "
                "`{code, message, loc}` (OpenAI's `{error: {...}}` on the chat endpoint)."
            ),
        },
        "paths": paths,
        "components": {"schemas": _SCHEMAS},
    }
