"""The web API (``/api/v1``), the console, ``/metrics`` and health checks, and the users, roles
and tokens behind them.

``create_app`` is imported on first use, so loading the auth service does not load FastAPI.

Example:
    >>> from airsoc.server import UserRole
    >>> [r.value for r in UserRole]
    ['ingest', 'viewer', 'responder', 'approver', 'admin']
"""

from __future__ import annotations

from typing import Any

from airsoc.roles import UserRole
from airsoc.server.auth import (
    IssuedToken,
    UserView,
    add_user,
    authenticate_token,
    check_separate_approver,
    issue_token,
    list_users,
    require_role,
    revoke_token,
)

__all__ = [
    "IssuedToken",
    "UserRole",
    "UserView",
    "add_user",
    "authenticate_token",
    "check_separate_approver",
    "create_app",
    "issue_token",
    "list_users",
    "require_role",
    "revoke_token",
]


def __getattr__(name: str) -> Any:
    """Return :func:`airsoc.server.app.create_app` on first use (it loads FastAPI)."""
    if name == "create_app":
        from airsoc.server.app import create_app

        return create_app
    raise AttributeError(f"module 'airsoc.server' has no attribute {name!r}")
