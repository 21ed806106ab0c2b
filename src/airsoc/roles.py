"""User roles: what a person may do, from reading to administering.

Each role includes the rights of the ones before it:
``ingest < viewer < responder < approver < admin``. ``ingest`` is for an app's service token
(its OpenTelemetry exporter, its inline scans): it may send traces and ask for scans
(``POST /api/v1/scan``) and nothing else, so a token baked into an app's deployment cannot read
incidents. Every higher role may do both too. The API, the CLI and the
table of operations all speak these names, so they live on the base floor.

Example:
    >>> parse_user_role("Approver")
    <UserRole.APPROVER: 'approver'>
    >>> UserRole.RESPONDER.rank < UserRole.APPROVER.rank
    True
"""

from __future__ import annotations

from enum import StrEnum

from airsoc.errors import InputError

__all__ = ["UserRole", "parse_user_role"]


class UserRole(StrEnum):
    """What a user may do; each role includes the rights of the ones before it."""

    INGEST = "ingest"
    VIEWER = "viewer"
    RESPONDER = "responder"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Return 0 for ingest, 1 for viewer, up to 4 for admin.

        >>> UserRole.INGEST.rank, UserRole.ADMIN.rank
        (0, 4)
        """
        return list(UserRole).index(self)


def parse_user_role(value: str) -> UserRole:
    """Return the user role named ``value``.

    >>> parse_user_role("Approver")
    <UserRole.APPROVER: 'approver'>
    >>> parse_user_role("boss")
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: role: unknown user role 'boss'; known: ingest, viewer, ...
    """
    try:
        return UserRole(value.strip().lower())
    except ValueError:
        known = ", ".join(r.value for r in UserRole)
        raise InputError(f"unknown user role {value!r}; known: {known}", loc="role") from None
