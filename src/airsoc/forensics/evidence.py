"""Evidence capture: a snapshot of what a system was when an incident was declared, taken before
containment changes it, into the content-addressed evidence store with custody records.

:func:`capture_evidence` stores, each as an evidence item of the incident:

* the telemetry window (every event kind of the system in ``[start, end)``, one Parquet file
  per kind, read from the event log);
* the serving version's model artifact (when it is a local file) and its hash against the
  registry;
* the reference: the serving version's training batches, listed, and their files;
* the config text;
* the routing state (route, client rules, deployments: read-only calls to the gateway's store);
* the lineage of the serving version (the version, its batches, the deployment history);

plus a manifest listing every item with its sha256. :func:`verify_manifest` re-hashes every
item the manifest names and names each one that is missing or altered. Nothing is skipped in
silence: an item that cannot be captured (a remote artifact, a system never routed) is listed
in the manifest with its status and the reason.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.evidence import BlobStore
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.lineage import register_system
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock, blobs = SimulatedClock(), BlobStore(store.settings.evidence_dir)
    >>> with store.transaction() as s:
    ...     _ = register_system(s, clock=clock, actor="a", name="fraud",
    ...                         kind="tabular-classifier", owner="risk")
    ...     inc = declare_incident(s, clock=clock, actor="a", system="fraud",
    ...                            failure_mode="data_poisoning", summary="recall fell")
    ...     manifest = capture_evidence(
    ...         s, clock=clock, blobs=blobs, incident_id=inc.id, actor="responder",
    ...         telemetry_root=store.settings.telemetry_dir, config_text="systems: {}\\n")
    >>> [(i.name, i.status) for i in manifest.items][:2]
    [('telemetry/prediction.parquet', 'captured'), ('telemetry/label.parquet', 'captured')]
    >>> with store.read() as s:
    ...     verify_manifest(s, blobs=blobs, incident_id=inc.id).ok
    True
    >>> store.close()
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel
from sqlalchemy.orm import Session

from airsoc import lineage, serving
from airsoc.clock import Clock
from airsoc.errors import NotFoundError
from airsoc.incidents.evidence import BlobStatus, BlobStore
from airsoc.incidents.service import EvidenceView, add_evidence, get_incident
from airsoc.incidents.verification import verify_evidence
from airsoc.telemetry import read_events

__all__ = [
    "MANIFEST_NAME",
    "EvidenceManifest",
    "ManifestCheck",
    "ManifestItem",
    "capture_evidence",
    "verify_manifest",
]

MANIFEST_NAME = "evidence-manifest.json"
#: Event kinds a telemetry window holds, in the order they are captured.
TELEMETRY_KINDS = ("prediction", "label", "llm_turn", "feedback")
SOURCE = "forensics.capture_evidence"

ItemStatus = Literal["captured", "not_captured"]


class ManifestItem(BaseModel):
    """One item of an evidence manifest: what it is, its sha256, or why it is absent."""

    name: str
    kind: str
    status: ItemStatus
    sha256: str | None = None
    size: int | None = None
    evidence_id: int | None = None
    detail: dict[str, Any] = {}


class EvidenceManifest(BaseModel):
    """Everything one capture stored, with the manifest's own evidence item."""

    incident_id: int
    system: str
    serving_version: str | None
    window_start: datetime
    window_end: datetime
    captured_at: datetime
    items: list[ManifestItem]
    manifest_sha256: str
    duration_s: float


class ItemCheck(BaseModel):
    """One manifest item re-hashed: ``ok``, ``missing`` or ``altered``."""

    name: str
    sha256: str
    status: BlobStatus


class ManifestCheck(BaseModel):
    """The verification of an incident's evidence manifests, naming every bad item."""

    incident_id: int
    manifests: int
    items: list[ItemCheck]
    problems: list[str]

    @property
    def ok(self) -> bool:
        """Return whether every manifest and every item it names is intact."""
        return not self.problems


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    # lz4: the snapshot must be fast to take while an incident is live; zstd would halve it.
    pq.write_table(table, sink, compression="lz4")
    return sink.getvalue()


def _json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, indent=1, default=str).encode()


def _folder_tar(path: Path) -> bytes:
    """Return a deterministic tar of a folder (sorted names, zeroed times and owners)."""
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w") as tar:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(file.relative_to(path).as_posix())
            data = file.read_bytes()
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return sink.getvalue()


def capture_evidence(
    session: Session,
    *,
    clock: Clock,
    blobs: BlobStore,
    incident_id: int,
    actor: str,
    telemetry_root: str | Path,
    window: timedelta = timedelta(days=7),
    end: datetime | None = None,
    system: str | None = None,
    config_text: str | None = None,
    include_reference_data: bool = True,
) -> EvidenceManifest:
    """Snapshot the incident's system into the evidence store and return the manifest.

    Parameters
    ----------
    session
        A write transaction; every item is added in it, with its audit entry.
    clock
        The time source; ``end`` defaults to its now.
    blobs
        The content-addressed evidence store.
    incident_id, actor
        The incident the evidence belongs to, and who collects it (custody).
    telemetry_root
        The event log's folder.
    window, end
        The telemetry window is ``[end - window, end)``.
    system
        Defaults to the incident's system.
    config_text
        The configuration in force (``airsoc.yaml``); listed as not captured when absent.
    include_reference_data
        Whether to store the reference batches' files, not only their list.

    Returns
    -------
    EvidenceManifest
        Every item with its sha256 (or why it is absent) and the manifest's own sha256. The
        serving version is the route's primary version, else the open primary deployment.

    Raises
    ------
    NotFoundError
        When the incident or the system does not exist.

    Examples
    --------
    >>> import tempfile
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> with store.transaction() as s:
    ...     capture_evidence(s, clock=SimulatedClock(), blobs=BlobStore(tempfile.mkdtemp()),
    ...                      incident_id=3, actor="a", telemetry_root=tempfile.mkdtemp())
    Traceback (most recent call last):
    airsoc.errors.NotFoundError: incident 3 not found
    >>> store.close()
    """
    started = time.perf_counter()
    incident = get_incident(session, incident_id=incident_id)
    system = system or incident.system
    lineage.get_system(session, name=system)
    stop = end or clock.now()
    start = stop - window
    items: list[ManifestItem] = []

    def put(name: str, kind: str, content: bytes, media: str, detail: dict[str, Any]) -> None:
        view: EvidenceView = add_evidence(
            session,
            clock=clock,
            blobs=blobs,
            incident_id=incident_id,
            content=content,
            name=name,
            source=SOURCE,
            actor=actor,
            media_type=media,
            description=f"{kind} captured for incident {incident_id}",
        )
        items.append(
            ManifestItem(
                name=name,
                kind=kind,
                status="captured",
                sha256=view.sha256,
                size=view.size,
                evidence_id=view.id,
                detail=detail,
            )
        )

    def absent(name: str, kind: str, reason: str) -> None:
        items.append(
            ManifestItem(name=name, kind=kind, status="not_captured", detail={"reason": reason})
        )

    for kind in TELEMETRY_KINDS:
        table = read_events(telemetry_root, kind, system=system, start=start, end=stop)
        put(
            f"telemetry/{kind}.parquet",
            "telemetry",
            _parquet(table),
            "application/vnd.apache.parquet",
            {"rows": table.num_rows, "start": start.isoformat(), "end": stop.isoformat()},
        )

    route: dict[str, Any] | None
    try:
        route = serving.get_route(session, system=system).model_dump(mode="json")
    except NotFoundError as exc:
        route = None
        route_note = str(exc)
    deployments = lineage.current_deployments(session, system=system)
    version = (route or {}).get("primary_version") or next(
        (d.version for d in deployments if d.role == "primary"), None
    )
    put(
        "routing.json",
        "routing",
        _json(
            {
                "route": route,
                "route_note": None if route is not None else route_note,
                "client_rules": [
                    r.model_dump(mode="json") for r in serving.control.list_client_rules(session)
                ],
                "deployments": [d.model_dump(mode="json") for d in deployments],
            }
        ),
        "application/json",
        {"serving_version": version},
    )

    if config_text is None:
        absent("config.yaml", "config", "no config text given")
    else:
        put("config.yaml", "config", config_text.encode(), "application/yaml", {})

    if version is None:
        for name, kind in (
            ("model", "model"),
            ("lineage.json", "lineage"),
            ("reference", "reference"),
        ):
            absent(name, kind, f"system {system} has no serving version")
    else:
        _capture_version(session, system, version, put, absent, include_reference_data)

    manifest_items = [i.model_dump(mode="json") for i in items]
    body = {
        "incident_id": incident_id,
        "system": system,
        "serving_version": version,
        "window": {"start": start.isoformat(), "end": stop.isoformat()},
        "captured_at": clock.now().isoformat(),
        "captured_by": actor,
        "items": manifest_items,
    }
    view = add_evidence(
        session,
        clock=clock,
        blobs=blobs,
        incident_id=incident_id,
        content=_json(body),
        name=MANIFEST_NAME,
        source=SOURCE,
        actor=actor,
        media_type="application/json",
        description=f"manifest of {len(items)} evidence items",
    )
    return EvidenceManifest(
        incident_id=incident_id,
        system=system,
        serving_version=version,
        window_start=start,
        window_end=stop,
        captured_at=clock.now(),
        items=items,
        manifest_sha256=view.sha256,
        duration_s=round(time.perf_counter() - started, 3),
    )


def _capture_version(
    session: Session,
    system: str,
    version: str,
    put: Any,
    absent: Any,
    include_reference_data: bool,
) -> None:
    model = lineage.get_model_version(session, system=system, version=version)
    path = lineage.local_path(model.artifact_uri)
    if path is None or not path.exists():
        absent(
            "model",
            "model",
            f"artifact {model.artifact_uri} is not a local file; registered sha256 {model.sha256}",
        )
    else:
        actual = lineage.sha256_file(path)
        content = _folder_tar(path) if path.is_dir() else path.read_bytes()
        put(
            f"model/{path.name}" + (".tar" if path.is_dir() else ""),
            "model",
            content,
            "application/x-tar" if path.is_dir() else "application/octet-stream",
            {
                "version": version,
                "artifact_uri": model.artifact_uri,
                "registered_sha256": model.sha256,
                "artifact_sha256": actual,
                "matches_registry": actual == model.sha256,
            },
        )
    batches = lineage.batches_for_model(session, system=system, version=version)
    put(
        "lineage.json",
        "lineage",
        _json(
            {
                "model_version": model.model_dump(mode="json"),
                "training_batches": [b.model_dump(mode="json") for b in batches],
                "deployment_history": [
                    d.model_dump(mode="json")
                    for d in lineage.deployment_history(session, system=system)
                ],
            }
        ),
        "application/json",
        {"version": version, "batches": len(batches)},
    )
    put(
        "reference.json",
        "reference",
        _json(
            {
                "model_version": version,
                "batches": [
                    {"batch": b.batch_id, "source": b.source, "sha256": b.sha256, "uri": b.uri}
                    for b in batches
                ],
            }
        ),
        "application/json",
        {"batches": len(batches)},
    )
    if not include_reference_data:
        return
    for b in batches:
        file = lineage.local_path(b.uri) if b.uri else None
        name = f"reference/{b.batch_id}"
        if file is None or not file.is_file():
            absent(name, "reference", f"batch file {b.uri!r} is not a local file")
            continue
        put(
            name + file.suffix,
            "reference",
            file.read_bytes(),
            "application/octet-stream",
            {"batch": b.batch_id, "registered_sha256": b.sha256},
        )


def verify_manifest(session: Session, *, blobs: BlobStore, incident_id: int) -> ManifestCheck:
    """Return the check of every evidence manifest of the incident and every item it lists.

    An item whose blob is gone is ``missing``; one that no longer hashes to the sha256 the
    manifest holds is ``altered``; a manifest that was altered is named itself. Every problem
    names the item.

    Examples
    --------
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> with store.read() as s:
    ...     verify_manifest(s, blobs=BlobStore(store.settings.evidence_dir), incident_id=9)
    Traceback (most recent call last):
    airsoc.errors.NotFoundError: incident 9 not found
    """
    checks = verify_evidence(session, blobs=blobs, incident_id=incident_id)
    problems = [c.problem for c in checks if c.problem and c.name == MANIFEST_NAME]
    items: list[ItemCheck] = []
    manifests = [c for c in checks if c.name == MANIFEST_NAME]
    for manifest in manifests:
        if not manifest.ok:
            continue
        body = json.loads(blobs.get(manifest.sha256))
        for item in body["items"]:
            if item["status"] != "captured":
                continue
            status = blobs.check(item["sha256"])
            items.append(ItemCheck(name=item["name"], sha256=item["sha256"], status=status))
            if status != "ok":
                problems.append(
                    f"evidence item {item['name']} (evidence {item['evidence_id']}) of incident "
                    f"{incident_id}: blob {item['sha256']} is {status}"
                )
    if not manifests:
        problems.append(f"incident {incident_id} has no evidence manifest")
    return ManifestCheck(
        incident_id=incident_id, manifests=len(manifests), items=items, problems=problems
    )
