"""The airsoc error hierarchy: every error a user can see has a stable ``code``.

Each code has a heading in ``docs/errors.md``; a test keeps the two in step.
Catch :class:`AirsocError` to handle anything airsoc raises on purpose::

    AirsocError                      airsoc_error
    ├── ConfigError                  config_invalid        (carries ConfigIssue locations)
    ├── InputError                   input_invalid
    │   ├── UnknownFailureModeError  unknown_failure_mode
    │   ├── UnknownPhaseError        unknown_phase
    │   ├── UnknownSeverityError     unknown_severity
    │   ├── UnknownRoleError         unknown_role
    │   ├── SchemaMismatchError      schema_mismatch
    │   ├── DataFileError            data_file_invalid
    │   ├── MalformedRequestError    malformed_request
    │   ├── PayloadTooLargeError     payload_too_large
    │   ├── ExpressionError          expression_invalid
    │   └── InvalidEventError        event_invalid
    ├── NotFoundError                not_found
    ├── ConflictError                conflict
    │   └── IllegalTransitionError   illegal_transition
    ├── IntegrityError               integrity_failed
    │   ├── AuditChainBrokenError    audit_chain_broken
    │   ├── HashMismatchError        hash_mismatch
    │   └── AuditAnchorError         audit_anchor_invalid
    ├── AuthenticationError          unauthenticated
    ├── PermissionDeniedError        permission_denied
    │   └── ClientBlockedError       client_blocked
    ├── RateLimitedError             rate_limited
    ├── StoreError                   store_error
    ├── DetectionError               detection_failed
    ├── GatewayError                 gateway_error
    │   └── SystemUnavailableError   system_unavailable
    ├── ActionError                  action_failed
    ├── DeliveryError                delivery_failed
    ├── TelemetryUnavailableError    telemetry_unavailable
    └── AuditKeyError                audit_key_invalid

Example:
    >>> from airsoc.errors import IllegalTransitionError, AirsocError
    >>> err = IllegalTransitionError("cannot move incident 3 from closed to contained")
    >>> isinstance(err, AirsocError), err.code
    (True, 'illegal_transition')
    >>> err.to_dict()["code"]
    'illegal_transition'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "ActionError",
    "AirsocError",
    "AuditAnchorError",
    "AuditChainBrokenError",
    "AuditKeyError",
    "AuthenticationError",
    "ClientBlockedError",
    "ConfigError",
    "ConfigIssue",
    "ConflictError",
    "DataFileError",
    "DeliveryError",
    "DetectionError",
    "ExpressionError",
    "GatewayError",
    "HashMismatchError",
    "IllegalTransitionError",
    "InputError",
    "IntegrityError",
    "InvalidEventError",
    "MalformedRequestError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "SchemaMismatchError",
    "StoreError",
    "SystemUnavailableError",
    "TelemetryUnavailableError",
    "UnknownFailureModeError",
    "UnknownPhaseError",
    "UnknownRoleError",
    "UnknownSeverityError",
    "all_error_classes",
]


class AirsocError(Exception):
    """Base of every error airsoc raises on purpose; ``code`` is stable across releases."""

    code: ClassVar[str] = "airsoc_error"
    #: HTTP status the API answers with for this error.
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, loc: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc

    def __str__(self) -> str:
        return f"{self.loc}: {self.message}" if self.loc else self.message

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form the CLI (``--json``) and the API print."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.loc:
            out["loc"] = self.loc
        return out


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file: where (``monitors[0].window``), what, and the value."""

    loc: str
    message: str
    value: Any = None

    def __str__(self) -> str:
        shown = "" if self.value is None else f" (got {_short_repr(self.value)})"
        return f"{self.loc or '<root>'}: {self.message}{shown}"


def _short_repr(value: Any, limit: int = 200) -> str:
    # A bad value is shown, never echoed whole: a huge input must not make a huge error.
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 15]}... ({len(text)} chars)"


class ConfigError(AirsocError):
    """A configuration or playbook file failed validation; nothing from it was applied."""

    code = "config_invalid"
    http_status = 422

    def __init__(self, issues: Sequence[ConfigIssue], *, source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        where = f"{source}: " if source else ""
        first = str(self.issues[0]) if self.issues else "invalid configuration"
        more = f" (and {len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
        super().__init__(f"{where}{first}{more}")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["issues"] = [
            {"loc": i.loc, "message": i.message, "value": _jsonable(i.value)} for i in self.issues
        ]
        if self.source:
            out["source"] = self.source
        return out


class InputError(AirsocError):
    """A value given by the user is not acceptable; the message names it and where it came from."""

    code = "input_invalid"
    http_status = 422


class UnknownFailureModeError(InputError):
    """The failure mode is not one of the taxonomy's modes."""

    code = "unknown_failure_mode"


class UnknownPhaseError(InputError):
    """The incident phase is not one of the lifecycle's phases."""

    code = "unknown_phase"


class UnknownSeverityError(InputError):
    """The severity is not one of sev1..sev5."""

    code = "unknown_severity"


class UnknownRoleError(InputError):
    """The incident role is not one of the response roles."""

    code = "unknown_role"


class SchemaMismatchError(InputError):
    """Two datasets that must share a schema do not (missing, extra or retyped columns)."""

    code = "schema_mismatch"


class DataFileError(InputError):
    """A data file cannot be read: missing, unsupported format, or malformed at a given row."""

    code = "data_file_invalid"


class MalformedRequestError(InputError):
    """A request body is not valid JSON or not the shape the endpoint expects."""

    code = "malformed_request"
    http_status = 400


class PayloadTooLargeError(InputError):
    """A request body is larger than the gateway accepts."""

    code = "payload_too_large"
    http_status = 413


class ExpressionError(InputError):
    """A condition or template is not valid in the safe expression language, or failed on data."""

    code = "expression_invalid"


class NotFoundError(AirsocError):
    """The named object (incident, system, model version, ...) does not exist."""

    code = "not_found"
    http_status = 404


class ConflictError(AirsocError):
    """The request conflicts with the current state of the object."""

    code = "conflict"
    http_status = 409


class IllegalTransitionError(ConflictError):
    """An incident cannot move between these phases; the message names the legal moves."""

    code = "illegal_transition"


class IntegrityError(AirsocError):
    """Stored data failed an integrity check."""

    code = "integrity_failed"
    http_status = 500


class AuditChainBrokenError(IntegrityError):
    """The hash chain of the audit timeline is broken; the message names the first bad entry."""

    code = "audit_chain_broken"


class HashMismatchError(IntegrityError):
    """A blob, artifact or batch does not have the sha256 the registry holds for it."""

    code = "hash_mismatch"


class AuthenticationError(AirsocError):
    """No valid credentials were given (missing, unknown, revoked or expired token or session)."""

    code = "unauthenticated"
    http_status = 401


class PermissionDeniedError(AirsocError):
    """The actor lacks the role this operation needs."""

    code = "permission_denied"
    http_status = 403


class ClientBlockedError(PermissionDeniedError):
    """The client is on the gateway's block list."""

    code = "client_blocked"


class RateLimitedError(AirsocError):
    """The client sent more requests (or failed more logins) than its limit allows; retry later."""

    code = "rate_limited"
    http_status = 429

    def __init__(
        self, message: str, *, loc: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message, loc=loc)
        #: Whole seconds after which a retry may be accepted, when known (``Retry-After``).
        self.retry_after = retry_after


class StoreError(AirsocError):
    """The state store cannot be reached or is not migrated."""

    code = "store_error"
    http_status = 503


class DetectionError(AirsocError):
    """A detector could not run on the data it was given."""

    code = "detection_failed"
    http_status = 422


class GatewayError(AirsocError):
    """The serving gateway could not carry out a request or a routing change."""

    code = "gateway_error"
    http_status = 502


class SystemUnavailableError(GatewayError):
    """The system is isolated or has no serving version; nothing reached a model."""

    code = "system_unavailable"
    http_status = 503


class ActionError(AirsocError):
    """A response action failed; it is recorded on the run and never swallowed."""

    code = "action_failed"
    http_status = 500


class DeliveryError(AirsocError):
    """A notification could not be delivered after every retry; the delivery is recorded."""

    code = "delivery_failed"
    http_status = 502


class InvalidEventError(InputError):
    """A telemetry event was refused before it was queued; the message names the field."""

    code = "event_invalid"


class TelemetryUnavailableError(AirsocError):
    """The telemetry log cannot take more events (its disk stays unwritable); retry later."""

    code = "telemetry_unavailable"
    http_status = 503


class AuditAnchorError(IntegrityError):
    """An exported anchor of audit chain heads is malformed or not signed with this store's key."""

    code = "audit_anchor_invalid"


class AuditKeyError(AirsocError):
    """The audit timeline's signing key cannot be found, read or used."""

    code = "audit_key_invalid"
    http_status = 500


def all_error_classes() -> list[type[AirsocError]]:
    """Return every error class in the hierarchy, the base first.

    >>> [c.code for c in all_error_classes()][:2]
    ['airsoc_error', 'config_invalid']
    """

    def walk(cls: type[AirsocError]) -> Iterator[type[AirsocError]]:
        yield cls
        for sub in cls.__subclasses__():
            yield from walk(sub)

    return list(walk(AirsocError))


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)
