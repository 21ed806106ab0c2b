"""The MLflow adapter (extra ``mlflow``): MLflow stays the source of truth for teams that use it.

- :func:`import_registered_models` copies registered model versions (artifact, hash, run metrics
  and params, training batches named in the run tag ``airsoc.training_batches``) into the
  lineage registry; importing again adds only the new versions.
- :func:`switch_alias` moves an MLflow alias (``production``, ``champion``) to a version, e.g.
  after a rollback, so MLflow-driven deployers follow airsoc's decision.

The gateway serves imported versions (framework ``mlflow``) as pyfunc models.

Example:
    >>> mlflow_version_name("3")
    'v3'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.errors import InputError, NotFoundError
from airsoc.lineage.integrity import local_path, sha256_file
from airsoc.lineage.records import ModelVersionView
from airsoc.lineage.systems import get_system
from airsoc.lineage.versions import list_model_versions, register_model_version

__all__ = [
    "BATCHES_TAG",
    "import_registered_models",
    "mlflow_version_name",
    "switch_alias",
]

#: Run tag listing the airsoc batch ids a run trained on, comma-separated.
BATCHES_TAG = "airsoc.training_batches"


def _client(tracking_uri: str) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise InputError(
            "the MLflow adapter needs the extra: pip install 'airsoc[mlflow]'"
        ) from exc
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def mlflow_version_name(version: str | int, *, prefix: str = "v") -> str:
    """Return the registry's name for an MLflow model version number."""
    return f"{prefix}{version}"


def import_registered_models(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    tracking_uri: str,
    systems: Mapping[str, str] | None = None,
    names: Iterable[str] | None = None,
    prefix: str = "v",
) -> list[ModelVersionView]:
    """Import MLflow registered models' versions into the registry; return the new versions.

    ``systems`` maps an MLflow model name to an airsoc system (default: the same name); the
    system must be registered. Artifacts must be local (a file store or a local artifact root)
    so they can be hashed.
    """
    client = _client(tracking_uri)
    wanted = (
        list(names) if names is not None else [m.name for m in client.search_registered_models()]
    )
    imported = []
    for name in wanted:
        system = (systems or {}).get(name, name)
        get_system(session, name=system)
        existing = {m.version for m in list_model_versions(session, system=system)}
        versions = sorted(
            client.search_model_versions(f"name='{name}'"), key=lambda mv: int(mv.version)
        )
        for mv in versions:
            version = mlflow_version_name(mv.version, prefix=prefix)
            if version in existing:
                continue
            source = client.get_model_version_download_uri(name, mv.version)
            path = local_path(source)
            if path is None or not path.exists():
                raise InputError(
                    f"MLflow model {name} version {mv.version}: artifact {source} is not a local "
                    "path, so it cannot be hashed"
                )
            metrics: dict[str, Any] = {}
            params: dict[str, Any] = {"mlflow_model": name, "mlflow_version": str(mv.version)}
            batches: Sequence[str] = ()
            if mv.run_id:
                run = client.get_run(mv.run_id)
                metrics = dict(run.data.metrics)
                params.update(run.data.params)
                tag = run.data.tags.get(BATCHES_TAG, "")
                batches = [b.strip() for b in tag.split(",") if b.strip()]
            imported.append(
                register_model_version(
                    session,
                    clock=clock,
                    actor=actor,
                    system=system,
                    version=version,
                    artifact_uri=str(path),
                    sha256=sha256_file(path),
                    framework="mlflow",
                    training_batches=batches,
                    metrics=metrics,
                    params=params,
                    reason=f"imported from MLflow ({tracking_uri})",
                )
            )
    return imported


def switch_alias(*, tracking_uri: str, model: ModelVersionView, alias: str = "production") -> str:
    """Point MLflow alias ``alias`` at the MLflow version behind ``model``; return the number."""
    name = model.params.get("mlflow_model")
    number = model.params.get("mlflow_version")
    if not name or not number:
        raise NotFoundError(f"{model.system} {model.version} was not imported from MLflow")
    _client(tracking_uri).set_registered_model_alias(name, alias, number)
    return str(number)
