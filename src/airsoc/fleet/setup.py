"""The demo's first start: its ``airsoc.yaml``, its playbooks, the registered fleet and its users.

:func:`prepare_demo` is idempotent: the configuration, the trained models and the users are made
once per data dir and reused afterwards. The fleet:

- ``fraud-detector`` v1 (known-good) trained on two clean batches from vendor ``acme-data``, and
  v2 trained with an extra batch from ``brightline-data`` whose fraud labels were flipped to
  legit: the poisoned model the scheduled fault promotes.
- ``credit-scorer`` v1, served and watched.
- ``sentiment-model`` and ``support-bot``: registered systems without served versions.

Example:
    >>> text = demo_config_text(monitor_every=15)
    >>> from airsoc.runtime.config import parse_config
    >>> cfg = parse_config(text)
    >>> sorted(cfg.systems)
    ['credit-scorer', 'fraud-detector', 'sentiment-model', 'support-bot']
    >>> [m.every.total_seconds() for m in cfg.monitors][:1]
    [15.0]
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import joblib
import pandas as pd
import yaml

from airsoc import lineage
from airsoc.clock import Clock
from airsoc.config import read_text
from airsoc.errors import NotFoundError
from airsoc.fleet.systems import (
    CREDIT_FEATURES,
    FRAUD_FEATURES,
    credit_applications,
    flip_labels,
    fraud_transactions,
    train_credit_scorer,
    train_fraud_detector,
)
from airsoc.lineage.config import LineageSection
from airsoc.response.playbooks import DEFAULT_PLAYBOOKS_DIR
from airsoc.serving import promote
from airsoc.store import Store

__all__ = [
    "CREDIT_SCHEMA",
    "DEMO_USERS",
    "FRAUD_SCHEMA",
    "POISONED_BATCH",
    "DemoSetup",
    "UserDirectory",
    "credit_rows",
    "demo_config_text",
    "fraud_rows",
    "prepare_demo",
    "reference_scores",
]

ACTOR = "system:demo"
FRAUD_SCHEMA = {
    "amount": "number",
    "hour": "number",
    "distance_km": "number",
    "card_age_days": "number",
    "tx_last_24h": "number",
    "merchant_category": "string",
    "country_mismatch": "number",
}
CREDIT_SCHEMA = {
    "income": "number",
    "debt_ratio": "number",
    "age": "number",
    "employment_years": "number",
    "region": "string",
}
DEMO_USERS = (("demo-admin", "admin"), ("demo-approver", "approver"))
CLEAN_BATCHES = ("acme-data/2026-11-01", "acme-data/2026-11-08")
POISONED_BATCH = "brightline-data/2026-11-15"


def demo_config_text(*, monitor_every: float) -> str:
    """Return the demo's ``airsoc.yaml``: systems, monitors, routing, incident rules, playbooks.

    Monitors run every ``monitor_every`` seconds over a sliding window twice that long.
    """
    every = f"{monitor_every:g}s"
    window = f"{2 * monitor_every:g}s"
    return f"""\
# airsoc.yaml written by `airsoc up --demo`: the demo fleet, its monitors, who is told, and
# which playbooks run. Edit it while airsoc runs: a valid file is applied at once.

systems:
  fraud-detector:
    kind: tabular-classifier
    owner: risk-ml
    criticality: high
    description: Scores card transactions; fraud blocks the payment.
  credit-scorer:
    kind: tabular-classifier
    owner: lending-ml
    criticality: high
  sentiment-model:
    kind: tabular-classifier
    owner: cx-analytics
    criticality: low
  support-bot:
    kind: rag-app
    owner: cx-platform
    criticality: medium

monitors:
  - name: fraud-score-shift
    system: fraud-detector
    detector: score_drift
    window: {window}
    window_kind: sliding
    every: {every}
    failure_mode: data_poisoning
    severity: sev2
  - name: credit-score-shift
    system: credit-scorer
    detector: score_drift
    window: {window}
    window_kind: sliding
    every: {every}
    failure_mode: prediction_drift
    severity: sev3
  - name: fraud-latency
    system: fraud-detector
    detector: threshold
    metric: latency_ms
    thresholds: {{max: 2000}}
    window: {window}
    window_kind: sliding
    every: {every}
    severity: sev3

routes:
  receiver: ml-oncall
  group_by: [system, failure_mode]
  group_wait: 1s
  group_interval: 1m
  repeat_interval: 4h
  routes:
    - matchers: ['severity =~ "sev1|sev2"']
      receiver: pager
      continue: true

receivers:
  ml-oncall: {{}}   # the demo records notifications and prints them
  pager: {{}}

incident_rules:
  - when: 'failure_mode == "data_poisoning" or severity in ["sev1", "sev2"]'
    declare: true

playbooks:
  - playbooks/*.yaml
"""


def _write_playbooks(folder: Path, *, approval_timeout: float) -> None:
    """Copy the shipped playbooks; the rollback proceeds after ``approval_timeout`` unanswered."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(DEFAULT_PLAYBOOKS_DIR).glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if path.name == "poisoned-training-data.yaml":
            text = text.replace(
                "timeout: 15m, on_timeout: proceed",
                f"timeout: {approval_timeout:g}s, on_timeout: proceed",
            )
        (folder / path.name).write_text(text, encoding="utf-8")


def fraud_rows(data: pd.DataFrame) -> list[dict[str, Any]]:
    """Return transactions as the gateway's request rows (features only, JSON types)."""
    features = data[FRAUD_FEATURES].assign(country_mismatch=data["country_mismatch"].astype(float))
    return [
        {str(k): (float(v) if k != "merchant_category" else str(v)) for k, v in r.items()}
        for r in features.to_dict("records")
    ]


def credit_rows(data: pd.DataFrame) -> list[dict[str, Any]]:
    """Return loan applications as the gateway's request rows (features only, JSON types)."""
    return [
        {str(k): (float(v) if k != "region" else str(v)) for k, v in r.items()}
        for r in data[CREDIT_FEATURES].to_dict("records")
    ]


@dataclass
class DemoSetup:
    """What the demo prepared: where things are, the served models, and the users."""

    folder: Path
    config_path: Path
    credentials: dict[str, str]
    references: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def reference_scores(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Return each served system's known-good scores on a clean sample (the monitors' reference)."""
    fraud = joblib.load(folder / "models" / "fraud-detector-v1.joblib")
    credit = joblib.load(folder / "models" / "credit-scorer-v1.joblib")
    tx = pd.DataFrame(fraud_rows(fraud_transactions(1500, seed=101)))
    apps = pd.DataFrame(credit_rows(credit_applications(1500, seed=102)))
    return {
        "fraud-detector": [{"score": float(s)} for s in fraud.predict_proba(tx)[:, 1]],
        "credit-scorer": [{"score": float(s)} for s in credit.predict_proba(apps)[:, 1]],
    }


def _save_batch(folder: Path, name: str, data: pd.DataFrame) -> tuple[str, str]:
    path = folder / "batches" / (name.replace("/", "_") + ".parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    data.to_parquet(path, index=False)
    return str(path), lineage.sha256_file(path)


def _register_fleet(store: Store, clock: Clock, folder: Path) -> None:
    clean = [fraud_transactions(1500, seed=s) for s in (1, 2)]
    poisoned, _ = flip_labels(
        fraud_transactions(3000, seed=3, fraud_rate=0.05),
        "is_fraud",
        share=1.0,
        seed=3,
        only_positive=True,
    )
    v1 = train_fraud_detector(pd.concat(clean, ignore_index=True))
    v2 = train_fraud_detector(pd.concat([*clean, poisoned], ignore_index=True))
    credit = train_credit_scorer(credit_applications(3000, seed=4))
    models = folder / "models"
    models.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for name, model in (
        ("fraud-detector-v1", v1),
        ("fraud-detector-v2", v2),
        ("credit-scorer-v1", credit),
    ):
        path = models / f"{name}.joblib"
        joblib.dump(model, path)
        artifacts[name] = (str(path), lineage.sha256_file(path))
    # The fleet registers only the systems section; the runtime checks the whole file.
    raw = yaml.safe_load(read_text(folder / "airsoc.yaml")) or {}
    config = LineageSection.model_validate({"systems": raw.get("systems", {})})
    with store.transaction() as s:
        lineage.sync_systems_from_config(s, clock=clock, actor=ACTOR, config=config)
        for batch, data in zip((*CLEAN_BATCHES, POISONED_BATCH), (*clean, poisoned), strict=True):
            uri, sha = _save_batch(folder, batch, data)
            lineage.register_batch(
                s,
                clock=clock,
                actor=ACTOR,
                batch_id=batch,
                source=batch.split("/")[0],
                rows=len(data),
                sha256=sha,
                uri=uri,
                reason="vendor delivery",
            )
        for system, version, batches, schema in (
            ("fraud-detector", "v1", CLEAN_BATCHES, FRAUD_SCHEMA),
            ("fraud-detector", "v2", (*CLEAN_BATCHES, POISONED_BATCH), FRAUD_SCHEMA),
            ("credit-scorer", "v1", ("acme-data/2026-11-01",), CREDIT_SCHEMA),
        ):
            uri, sha = artifacts[f"{system}-{version}"]
            lineage.register_model_version(
                s,
                clock=clock,
                actor=ACTOR,
                system=system,
                version=version,
                artifact_uri=uri,
                sha256=sha,
                training_batches=list(batches),
                input_schema=schema,
                reason="trained by the demo",
            )
        for system in ("fraud-detector", "credit-scorer"):
            lineage.mark_known_good(
                s,
                clock=clock,
                actor=ACTOR,
                system=system,
                version="v1",
                reason="passed the holdout review",
            )
            promote(
                s, clock=clock, actor=ACTOR, system=system, version="v1", reason="first release"
            )


class UserDirectory(Protocol):
    """Where the demo's console users go: the API's user store, handed in by its caller."""

    def names(self) -> set[str]:
        """Return the names of the users that exist."""
        ...

    def add(self, *, name: str, role: str, password: str) -> None:
        """Create the user ``name`` with ``role`` and ``password``."""
        ...


def _ensure_users(users: UserDirectory, folder: Path) -> dict[str, str]:
    path = folder / "credentials.txt"
    if path.exists():
        pairs = [line.split(" ", 1) for line in path.read_text(encoding="utf-8").splitlines()]
        return {name: password for name, password in pairs}  # noqa: C416
    credentials = {name: secrets.token_urlsafe(12) for name, _ in DEMO_USERS}
    existing = users.names()
    for name, role in DEMO_USERS:
        if name not in existing:
            users.add(name=name, role=role, password=credentials[name])
    path.write_text("".join(f"{k} {v}\n" for k, v in credentials.items()), encoding="utf-8")
    path.chmod(0o600)
    return credentials


def prepare_demo(
    *,
    store: Store,
    clock: Clock,
    users: UserDirectory,
    monitor_every: float = 15,
    approval_timeout: float = 30,
) -> DemoSetup:
    """Write the demo configuration and playbooks, register the fleet and users (first start
    only) and return where everything is."""
    folder = store.settings.data_dir / "demo"
    config_path = folder / "airsoc.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    if not config_path.exists():
        config_path.write_text(
            demo_config_text(monitor_every=monitor_every),
            encoding="utf-8",
        )
        _write_playbooks(folder / "playbooks", approval_timeout=approval_timeout)
    with store.read() as s:
        try:
            registered = bool(lineage.list_model_versions(s, system="fraud-detector"))
        except NotFoundError:
            registered = False
    if not registered:
        _register_fleet(store, clock, folder)
    credentials = _ensure_users(users, folder)
    return DemoSetup(
        folder=folder,
        config_path=config_path,
        credentials=credentials,
        references=reference_scores(folder),
    )
