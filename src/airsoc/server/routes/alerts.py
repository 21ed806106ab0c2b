"""``/api/v1/alerts``, ``/api/v1/silences`` and ``/api/v1/alertmanager``: read alerts, mute them,
and take alerts from an existing Prometheus Alertmanager.

Reads need any user; adding and expiring silences needs ``responder``. The Alertmanager webhook
authenticates with an API token like every route: configure the receiver with
``http_config: {authorization: {credentials: <token of a responder service account>}}``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from airsoc.alerting import add_silence, expire_silence, ingest_alertmanager, list_alerts
from airsoc.alerting import list_silences as list_stored_silences
from airsoc.alerting.engine import parse_alertmanager_payload
from airsoc.alerting.matchers import parse_matchers
from airsoc.alerting.service import AlertView, SilenceView, save_alert
from airsoc.detection.verdict import Verdict
from airsoc.errors import InputError
from airsoc.monitoring.signals import record_signal
from airsoc.roles import UserRole
from airsoc.server.auth import UserView
from airsoc.server.deps import Ctx, CurrentUser, ServerContext, requires
from airsoc.server.errors import error_responses
from airsoc.server.routes.incidents import Prose, Text
from airsoc.types import ClosedKeys
from airsoc.types import Text as PlainText

__all__ = [
    "AlertmanagerAlert",
    "AlertmanagerPayload",
    "IngestResult",
    "SilenceExpire",
    "SilenceIn",
    "router",
    "store_alertmanager",
]

router = APIRouter(tags=["alerts"])

Responder = Annotated[UserView, Depends(requires(UserRole.RESPONDER, "change silences"))]
Sender = Annotated[UserView, Depends(requires(UserRole.RESPONDER, "send alerts"))]
Matcher = Annotated[
    str,
    Field(
        min_length=3,
        max_length=300,
        pattern=r'^[A-Za-z_][A-Za-z0-9_]*(=|!=|=~|!~)"?(\.\*|[A-Za-z0-9_.:/ |-])*"?$',
        description='An Alertmanager matcher, e.g. `system=fraud` or `severity=~"sev1|sev2"`',
    ),
]
LabelValue = Annotated[PlainText, Field(max_length=500)]
LabelName = Annotated[PlainText, Field(max_length=200)]


class SilenceIn(BaseModel):
    """A new silence: matchers, why, and for how long (``duration_minutes``) or until when."""

    model_config = ConfigDict(extra="forbid")

    matchers: list[Matcher] = Field(min_length=1, max_length=20)
    comment: Prose
    duration_minutes: int | None = Field(None, ge=1, le=60 * 24 * 365)
    ends_at: AwareDatetime | None = Field(
        None, description="When the silence ends (instead of a duration)"
    )


class SilenceExpire(BaseModel):
    """Why a silence ends early."""

    model_config = ConfigDict(extra="forbid")

    reason: Text = ""


class AlertmanagerAlert(BaseModel):
    """One alert of an Alertmanager webhook body (version 4)."""

    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"] = "firing"
    labels: Annotated[dict[LabelName, LabelValue], ClosedKeys(200)] = Field(
        min_length=1, max_length=50
    )
    annotations: Annotated[dict[LabelName, LabelValue], ClosedKeys(200)] = Field(
        default_factory=dict, max_length=50
    )
    startsAt: AwareDatetime  # noqa: N815 - Alertmanager's field name
    endsAt: AwareDatetime | None = None  # noqa: N815
    generatorURL: Annotated[PlainText, Field(max_length=2000)] = ""  # noqa: N815


class AlertmanagerPayload(BaseModel):
    """The body an Alertmanager ``webhook_config`` receiver sends."""

    model_config = ConfigDict(extra="allow")

    version: Annotated[PlainText, Field(max_length=10)] = "4"
    status: Literal["firing", "resolved"] = "firing"
    alerts: list[AlertmanagerAlert] = Field(max_length=1000)


class IngestResult(BaseModel):
    """What the webhook took in: how many alerts, and their fingerprints."""

    accepted: int
    fingerprints: list[str]
    routed: bool = Field(description="True when an alerting engine routed them to receivers")


@router.get("/alerts", response_model=list[AlertView], responses=error_responses(422))
def alerts(
    ctx: Ctx,
    _user: CurrentUser,
    status_: Annotated[
        Literal["firing", "resolved"] | None, Query(alias="status", description="Only this status")
    ] = None,
    system: Annotated[PlainText | None, Query(max_length=200)] = None,
    label: Annotated[
        list[Matcher] | None,
        Query(max_length=20, description="Matchers every returned alert satisfies"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AlertView]:
    """List stored alerts, most recently updated first, filtered by status, system and labels."""
    try:
        matchers = parse_matchers(label or [])
    except ValueError as exc:
        raise InputError(str(exc), loc="query.label") from None
    with ctx.store.read() as s:
        found = list_alerts(s, status=status_, limit=100_000 if (system or matchers) else limit)
    if system:
        found = [a for a in found if a.labels.get("system") == system]
    found = [a for a in found if all(m.matches(a.labels) for m in matchers)]
    return found[:limit]


@router.get("/silences", response_model=list[SilenceView], responses=error_responses(422))
def silences(
    ctx: Ctx,
    _user: CurrentUser,
    include_expired: Annotated[bool, Query(description="Expired silences too")] = False,
) -> list[SilenceView]:
    """List silences, newest first (active and pending ones unless asked for expired too)."""
    with ctx.store.read() as s:
        return list_stored_silences(s, clock=ctx.clock, include_expired=include_expired)


@router.post(
    "/silences",
    status_code=status.HTTP_201_CREATED,
    response_model=SilenceView,
    responses=error_responses(403, 422),
)
def add(body: SilenceIn, ctx: Ctx, user: Responder) -> SilenceView:
    """Mute the alerts the matchers select, with the author and why, until it expires."""
    with ctx.store.transaction() as s:
        return add_silence(
            s,
            clock=ctx.clock,
            matchers=body.matchers,
            created_by=user.name,
            comment=body.comment,
            duration=timedelta(minutes=body.duration_minutes) if body.duration_minutes else None,
            ends_at=body.ends_at,
        )


@router.post(
    "/silences/{silence_id}/expire",
    response_model=SilenceView,
    responses=error_responses(403, 404, 409, 422),
)
def expire(
    silence_id: Annotated[str, Path(min_length=4, max_length=36, pattern=r"^[0-9a-f-]+$")],
    ctx: Ctx,
    user: Responder,
    body: SilenceExpire | None = None,
) -> SilenceView:
    """End a silence now (its id or a unique prefix of it)."""
    with ctx.store.transaction() as s:
        return expire_silence(
            s,
            clock=ctx.clock,
            silence_id=silence_id,
            actor=user.name,
            reason=body.reason if body else "",
        )


def store_alertmanager(ctx: ServerContext, payload: dict[str, object]) -> tuple[list[str], bool]:
    """Take an Alertmanager body: through the app's alerting engine when it has one (routed and
    notified), else stored as signals and alerts. Return the fingerprints and whether routed."""
    engine = ctx.alerting
    if engine is not None:
        return [a.fingerprint for a in ingest_alertmanager(payload, engine=engine)], True
    alerts_in = parse_alertmanager_payload(payload)
    now = ctx.clock.now()
    with ctx.store.transaction() as s:
        for alert in alerts_in:
            firing = not alert.is_resolved(now)
            name = alert.labels.get("alertname", "alertmanager")
            record_signal(
                s,
                clock=ctx.clock,
                monitor=name,
                system=alert.labels.get("system", ""),
                source="alertmanager",
                verdict=Verdict(
                    detector="alertmanager",
                    method="external",
                    subject=name,
                    failure_mode=alert.labels.get("failure_mode"),
                    decision="drift" if firing else "ok",
                    reason=alert.annotations.get("summary", "alert from Alertmanager"),
                    evidence={"labels": alert.labels},
                ),
            )
            save_alert(s, clock=ctx.clock, alert=alert, source="alertmanager")
    return [a.fingerprint for a in alerts_in], False


@router.post(
    "/alertmanager",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestResult,
    responses=error_responses(403, 422),
)
def alertmanager(body: AlertmanagerPayload, ctx: Ctx, _user: Sender) -> IngestResult:
    """Take an Alertmanager webhook (version 4): each alert becomes a signal and an alert."""
    payload = body.model_dump(mode="json")
    for alert in payload["alerts"]:  # a NUL cannot be stored (PostgreSQL refuses it in JSON)
        for key in ("labels", "annotations"):
            alert[key] = {k.replace("\x00", ""): v for k, v in alert[key].items()}
    fingerprints, routed = store_alertmanager(ctx, payload)
    return IngestResult(accepted=len(fingerprints), fingerprints=fingerprints, routed=routed)
