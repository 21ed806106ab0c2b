"""``/api/v1/charter``: the AI SOC's charter, generated from the configuration the server runs
with (Markdown, PDF or JSON), and where the server keeps that configuration.

``airsoc up`` gives the app its ``airsoc.yaml`` (:func:`serve_configuration`); the charter and
the severity floors of incidents declared through the API come from it. Without one, the charter
answers 409 and declarations use the documented default governance rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.errors import ConflictError
from airsoc.reporting.charter import (
    Charter,
    build_charter,
    render_charter_markdown,
    render_charter_pdf,
)
from airsoc.response.governance import GovernanceConfig
from airsoc.response.playbooks import Playbook
from airsoc.runtime.config import AirsocConfig, load_checked_config
from airsoc.server.auth import list_users
from airsoc.server.deps import Ctx, CurrentUser
from airsoc.server.errors import error_responses

__all__ = [
    "ServedConfiguration",
    "charter_from",
    "governance_of",
    "router",
    "serve_configuration",
    "served_charter",
    "served_configuration",
]

router = APIRouter(prefix="/charter", tags=["governance"])


@dataclass(frozen=True)
class ServedConfiguration:
    """The configuration the app runs with, its playbooks and where it was read from."""

    config: AirsocConfig
    playbooks: list[Playbook]
    source: str


def serve_configuration(app: FastAPI, config_path: str | Path) -> None:
    """Give the app the configuration in ``config_path`` (checked whole, playbooks loaded)."""
    config, playbooks = load_checked_config(config_path)
    app.state.configuration = ServedConfiguration(config, playbooks, str(config_path))


def served_configuration(app: FastAPI) -> ServedConfiguration | None:
    """Return the configuration the app was given, or None."""
    found: ServedConfiguration | None = getattr(app.state, "configuration", None)
    return found


def governance_of(app: FastAPI) -> GovernanceConfig:
    """Return the governance rules the app runs with (the defaults without a configuration)."""
    served = served_configuration(app)
    return served.config.governance if served else GovernanceConfig()


def charter_from(
    session: Session, *, config: AirsocConfig, playbooks: list[Playbook], clock: Clock
) -> Charter:
    """Return the charter of ``config``, with the users of the store and its measured times."""
    people = [(u.name, u.role.value) for u in list_users(session) if not u.disabled]
    return build_charter(
        config=config, playbooks=playbooks, people=people, session=session, now=clock.now()
    )


def served_charter(request: Request, ctx: Ctx) -> Charter:
    """Return the charter of the configuration the app runs with; 409 without one."""
    served = served_configuration(request.app)
    if served is None:
        raise ConflictError(
            "this server was started without a configuration; `airsoc up` serves the charter "
            "of its airsoc.yaml, and `airsoc charter` renders it from a file"
        )
    with ctx.store.read() as s:
        return charter_from(s, config=served.config, playbooks=served.playbooks, clock=ctx.clock)


@router.get(
    "",
    response_class=Response,
    responses={
        200: {
            "description": "The charter",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/markdown": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **error_responses(409, 422),
    },
)
def charter(
    request: Request,
    ctx: Ctx,
    _user: CurrentUser,
    format_: Annotated[Literal["json", "md", "pdf"], Query(alias="format")] = "json",
) -> Response:
    """Return the charter generated from the configuration the server runs with."""
    built = served_charter(request, ctx)
    if format_ == "md":
        return Response(render_charter_markdown(built), media_type="text/markdown; charset=utf-8")
    if format_ == "pdf":
        return Response(
            render_charter_pdf(built),
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="charter.pdf"'},
        )
    return Response(built.model_dump_json(), media_type="application/json")
