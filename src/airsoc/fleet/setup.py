"""The demo's first start: its ``airsoc.yaml``, its playbooks, the registered fleet and its users.

:func:`prepare_demo` is idempotent: the configuration, the trained models and the users are made
once per data dir and reused afterwards. The fleet:

- ``fraud-detector`` v1 (known-good), trained on two clean batches from vendor ``acme-data``
  and registered with its own validation evidence (scores and labels of a held-out split);
- its benign retrain v2 (v1's batches plus a third clean ``acme-data`` batch, with its own
  validation evidence), and the poisoned v3 (v2's batches plus a ``brightline-data`` batch whose
  fraud labels were flipped to legit, registered without validation evidence): both trained
  now, registered when the demo releases them (:func:`register_release`);
- ``credit-scorer`` v1, served and watched, registered without validation evidence;
- ``sentiment-model`` v1, served (product reviews in, sentiment out) and watched for text
  drift against the reviews it was trained on;
- ``recommender`` v1, served (impressions in, click probability out), whose traffic reports
  clicks and orders as delayed labels, watched by the click-through monitor;
- ``support-bot``: the RAG support bot, an OpenAI-compatible chat upstream the demo starts
  (:mod:`airsoc.fleet.rag.upstream`) and the gateway's chat endpoint serves; a version is
  registered for each address it listens on (:func:`register_support_bot`), and its turns are
  watched for prompt injection, harmful output and answers the policies do not support.

Example:
    >>> text = demo_config_text(monitor_every=15)
    >>> from airsoc.runtime.config import parse_config
    >>> cfg = parse_config(text)
    >>> sorted(cfg.systems)
    ['credit-scorer', 'fraud-detector', 'recommender', 'sentiment-model', 'support-bot']
    >>> [m.every.total_seconds() for m in cfg.monitors][:1]
    [15.0]
    >>> sorted(m.detector for m in cfg.monitors if m.system == "support-bot")
    ['hallucination_cascade', 'harmful_output', 'prompt_injection']
    >>> cfg.systems["support-bot"].guard.output, sorted(cfg.regulatory.systems)[:2]
    ('log', ['credit-scorer', 'fraud-detector'])
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import joblib
import pandas as pd
import yaml
from sklearn.model_selection import train_test_split

from airsoc import lineage
from airsoc.clock import Clock
from airsoc.config import read_text
from airsoc.errors import NotFoundError
from airsoc.fleet.rag.policies import POLICIES_RESOURCE
from airsoc.fleet.recommender import impressions, train_recommender
from airsoc.fleet.systems import (
    CREDIT_FEATURES,
    FRAUD_FEATURES,
    credit_applications,
    flip_labels,
    fraud_transactions,
    sentiment_reviews,
    train_credit_scorer,
    train_fraud_detector,
    train_served_sentiment_model,
)
from airsoc.lineage.config import LineageSection
from airsoc.response.playbooks import DEFAULT_PLAYBOOKS_DIR
from airsoc.serving import get_route, promote
from airsoc.store import Store

__all__ = [
    "APPROVER",
    "CREDIT_SCHEMA",
    "DEMO_USERS",
    "FRAUD_SCHEMA",
    "POISONED_BATCH",
    "RETRAIN_BATCH",
    "SUPPORT_BOT",
    "DemoSetup",
    "Release",
    "UserDirectory",
    "credit_rows",
    "demo_config_text",
    "fleet_cache_dir",
    "fraud_rows",
    "impression_rows",
    "prepare_demo",
    "register_release",
    "register_support_bot",
    "review_rows",
    "write_playbooks",
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
SCHEMAS = {
    "fraud-detector": FRAUD_SCHEMA,
    "credit-scorer": CREDIT_SCHEMA,
    "sentiment-model": {"text": "string"},
    "recommender": {"segment": "string", "category": "string", "position": "number"},
}
DEMO_USERS = (("demo-admin", "admin"), ("demo-approver", "approver"))
APPROVER = "demo-approver"  # the demo organisation's on-call incident commander
REVIEWS_BATCH = "reviewhub/2026-11-01"
IMPRESSIONS_BATCH = "shopevents/2026-11-01"
CLEAN_BATCHES = ("acme-data/2026-11-01", "acme-data/2026-11-08")
RETRAIN_BATCH = "acme-data/2026-11-15"
POISONED_BATCH = "brightline-data/2026-11-15"
SUPPORT_BOT = "support-bot"
#: The fleet's versions of shipped playbooks: the release regression of a system with a
#: training hook goes on to investigate its new training data, and to recover.
FLEET_PLAYBOOKS_DIR = Path(__file__).parent / "playbooks"
#: The approved policy index the support bot answers from, in the demo folder.
POLICY_INDEX = "policies.yaml"


def demo_config_text(*, monitor_every: float) -> str:
    """Return the demo's ``airsoc.yaml``: systems, monitors, routing, incident rules, playbooks.

    Monitors run every ``monitor_every`` seconds over a sliding window twice that long (the
    performance monitor, which waits for delayed labels, over four times that long). Every
    monitor judges what it can know: a version against its own validation evidence, live
    performance against the validated performance of the version an operator marked
    known-good, and each new data batch against the batches that version was trained on.
    """
    every = f"{monitor_every:g}s"
    window = f"{2 * monitor_every:g}s"
    long_window = f"{4 * monitor_every:g}s"
    columns = ", ".join(c for c in FRAUD_FEATURES if c != "merchant_category")
    return f"""\
# airsoc.yaml written by `airsoc up --demo`: the demo fleet, its monitors, who is told, and
# which playbooks run. Edit it while airsoc runs: a valid file is applied at once.

systems:
  fraud-detector:
    kind: tabular-classifier
    owner: risk-ml
    criticality: high
    description: Scores card transactions; fraud blocks the payment.
    retrain: {{hook: "airsoc.fleet.retrain:train_fraud_version"}}
  credit-scorer:
    kind: tabular-classifier
    owner: lending-ml
    criticality: high
    # Retrained on the loan book plus recent labelled applications, reweighed by group.
    retrain: {{hook: "airsoc.fleet.retrain:train_credit_version"}}
    # A fairness regression must be restored (approvals back within four fifths) in a day.
    restore_sla: {{fairness_regression: 1d}}
  sentiment-model:
    kind: tabular-classifier
    owner: cx-analytics
    criticality: low
    retrain: {{hook: "airsoc.fleet.retrain:train_sentiment_version"}}
  recommender:
    kind: tabular-classifier
    owner: growth-ml
    criticality: medium
    description: Picks the products a shopper sees; clicks and orders come back later.
  support-bot:
    kind: rag-app
    owner: cx-platform
    criticality: medium
    description: Answers customer and employee questions from the approved policies.
    # The gateway's guard records its decision on every turn (it blocks nothing): the system
    # page charts them.
    guard: {{input: log, output: log}}

monitors:
  # Every new data batch, from any vendor, screened against the training batches of the
  # version an operator marked known-good.
  - name: fraud-batch-screen
    system: fraud-detector
    detector: data_poisoning
    reference: {{model_version: known_good}}
    params: {{source: "*", label: is_fraud, columns: [{columns}]}}
    window: {window}
    window_kind: sliding
    every: {every}
    failure_mode: data_poisoning
    severity: sev2
  # The serving version against its own validation evidence, never against its predecessor.
  - name: fraud-release
    system: fraud-detector
    detector: release_regression
    reference: {{validation: production}}
    window: {window}
    window_kind: sliding
    every: {every}
    failure_mode: release_regression
    severity: sev2
  # Delayed labels (chargebacks): live recall and precision against the validated performance
  # of the known-good version.
  - name: fraud-performance
    system: fraud-detector
    detector: concept_drift
    reference: {{validation: known_good}}
    thresholds: {{alpha: 0.001, min_drop: 0.1}}
    params: {{positive: 1}}
    window: {long_window}
    window_kind: sliding
    every: {every}
    failure_mode: concept_drift
    severity: sev3
  # Each client's queries against normal traffic: grid sweeps and boundary probing (model
  # extraction), and inputs off the data's manifold whose answer flips under small noise
  # (adversarial evasion). The verdicts name the client; forensics ranks the suspects.
  - name: fraud-extraction
    system: fraud-detector
    detector: model_extraction
    reference: {{model_version: production}}
    params: {{label: is_fraud, columns: [{columns}]}}
    window: {window}
    window_kind: sliding
    every: {every}
    failure_mode: model_extraction
    severity: sev2
  - name: fraud-evasion
    system: fraud-detector
    detector: adversarial_evasion
    reference: {{model_version: production}}
    params: {{label: is_fraud, columns: [{columns}]}}
    window: {window}
    window_kind: sliding
    every: {every}
    failure_mode: adversarial_evasion
    severity: sev2
  - name: credit-release
    system: credit-scorer
    detector: release_regression
    reference: {{validation: production}}
    window: {window}
    window_kind: sliding
    every: {every}
    failure_mode: release_regression
    severity: sev3
  # Approvals (a predicted non-default) by region: a region whose approval rate falls below
  # four fifths of the best region's, with statistical evidence, is a fairness regression.
  - name: credit-fairness
    system: credit-scorer
    detector: fairness_regression
    params: {{group: region, positive: 0}}
    window: {long_window}
    window_kind: sliding
    every: {every}
    failure_mode: fairness_regression
    severity: sev2
  # Product reviews against the reviews the served sentiment version was trained on:
  # new and out-of-vocabulary terms, TF-IDF embedding MMD, confidence decay. Three tests
  # re-run on every sliding window of a few dozen reviews alarm by chance about once in a
  # hundred runs; slang that arrived keeps alarming, so an alert needs two runs in a row.
  - name: reviews-text-drift
    system: sentiment-model
    detector: text_drift
    reference: {{model_version: production}}
    params: {{column: text, embedder: tfidf}}
    window: {window}
    window_kind: sliding
    every: {every}
    confirm_runs: 2
    failure_mode: data_drift
    severity: sev3
  # Clicks per impression against the impression log the recommender was trained on; a fall
  # with orders intact is the click logger (pipeline_fault), with orders falling too a real drop.
  - name: recommender-ctr
    system: recommender
    detector: click_through
    reference: {{model_version: production}}
    window: {long_window}
    window_kind: sliding
    every: {every}
    severity: sev3
  # The support bot's turns, as the gateway's chat endpoint logged them: instructions injected
  # in what people type or in what the bot retrieved, unsafe or leaking answers, and answers
  # the approved policies do not support.
  - name: support-injection
    system: support-bot
    detector: prompt_injection
    params: {{scan: [user, retrieved]}}
    window: {window}
    window_kind: sliding
    every: {every}
    failure_mode: prompt_injection
    severity: sev2
  - name: support-harmful-output
    system: support-bot
    detector: harmful_output
    window: {window}
    window_kind: sliding
    every: {every}
    failure_mode: harmful_output
    severity: sev2
  - name: support-grounding
    system: support-bot
    detector: hallucination_cascade
    reference: {{documents: {POLICY_INDEX}}}
    window: {long_window}
    window_kind: sliding
    every: {every}
    failure_mode: hallucination_cascade
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
  model-owners: {{}}   # the owners of the fleet's models (the playbooks tell them)

# Serious incidents (EU AI Act Article 73): report deadlines counted in Berlin's calendar days.
regulatory:
  provider: the demo organisation
  jurisdictions: {{eu: {{time_zone: Europe/Berlin}}}}
  systems:
    fraud-detector: {{jurisdiction: eu}}
    credit-scorer: {{jurisdiction: eu}}
    support-bot: {{jurisdiction: eu}}

incident_rules:
  - when: 'failure_mode == "data_poisoning" or severity in ["sev1", "sev2"]'
    declare: true
  # A broken pipeline feeds every model downstream: declared whatever the monitor's severity,
  # so the pipeline is paused before anyone retrains on the faulty data. Drifted inputs are
  # declared too, so that the drift playbook's investigation and escalation run.
  - when: 'failure_mode in ["pipeline_fault", "data_drift"]'
    declare: true

playbooks:
  - playbooks/*.yaml

# Where the systems are placed: a serious incident's report is due by the EU AI Act's
# Article 73 clock, counted in the jurisdiction's time zone.
regulatory:
  provider: airsoc demo organisation
  jurisdictions:
    eu: {{time_zone: Europe/Berlin, article_73: true}}
  systems:
    fraud-detector: {{jurisdiction: eu}}
    credit-scorer: {{jurisdiction: eu}}
    recommender: {{jurisdiction: eu}}
    sentiment-model: {{jurisdiction: eu}}
    support-bot: {{jurisdiction: eu}}
"""


def register_support_bot(store: Store, clock: Clock, *, folder: Path, url: str) -> str:
    """Serve the support bot listening at ``url`` (its ``/v1`` base) through the gateway and
    return its version: the version registered for that address, else a new one (the bot
    moved), registered with the hash of the policy index it answers from and promoted."""
    index = folder / POLICY_INDEX
    with store.transaction() as s:
        versions = lineage.list_model_versions(s, system=SUPPORT_BOT)
        known = next((v for v in versions if v.artifact_uri == url), None)
        if known is None:
            version = f"v{len(versions) + 1}"
            lineage.register_model_version(
                s,
                clock=clock,
                actor=ACTOR,
                system=SUPPORT_BOT,
                version=version,
                artifact_uri=url,
                sha256=lineage.sha256_file(index),
                framework="openai",
                params={"model": "support-bot-rag", "documents": POLICY_INDEX},
                reason=f"the demo's RAG support bot, answering at {url}",
            )
        else:
            version = known.version
        try:
            serving = get_route(s, system=SUPPORT_BOT).primary_version
        except NotFoundError:
            serving = None
        if serving != version:
            promote(
                s,
                clock=clock,
                actor=ACTOR,
                system=SUPPORT_BOT,
                version=version,
                reason=f"the support bot answers at {url}",
            )
    return version


def write_playbooks(folder: Path, *, approval_timeout: float) -> None:
    """Copy the shipped playbooks; the rollback proceeds after ``approval_timeout`` unanswered,
    and the demo's on-call approver is made the poisoning incident's commander."""
    folder.mkdir(parents=True, exist_ok=True)
    shipped = {p.name: p for p in sorted(Path(DEFAULT_PLAYBOOKS_DIR).glob("*.yaml"))}
    # The fleet's own versions of shipped playbooks (FLEET_PLAYBOOKS_DIR) take their place.
    shipped.update({p.name: p for p in sorted(FLEET_PLAYBOOKS_DIR.glob("*.yaml"))})
    for path in shipped.values():
        text = path.read_text(encoding="utf-8")
        if path.name in (
            "release-regression.yaml",
            "prompt-injection.yaml",
            "hallucination-cascade.yaml",
        ):
            text = text.replace(
                "timeout: 15m, on_timeout: proceed",
                f"timeout: {approval_timeout:g}s, on_timeout: proceed",
            )
        if path.name == "poisoned-training-data.yaml":
            text = text.replace(
                "timeout: 15m, on_timeout: proceed",
                f"timeout: {approval_timeout:g}s, on_timeout: proceed",
            )
            # The demo organisation's on-call incident commander may approve the rollback.
            text = text.replace(
                "steps:\n",
                "steps:\n  - id: commander\n    action: assign_role\n"
                f"    with: {{role: incident_commander, person: {APPROVER}}}\n",
                1,
            )
        if path.name in ("model-extraction.yaml", "adversarial-evasion.yaml"):
            # The client is the one the per-client monitor's alert names; when several alarmed,
            # the investigation that runs first ranks them. The demo organisation blocks after
            # an unanswered approval.
            text = text.replace(
                '"incident.labels.client != null"',
                '"incident.labels.client != null'
                ' or len(default(steps.root_cause.suspects, [])) > 0"',
            )
            text = text.replace(
                "{{ incident.labels.client }}",
                "{{ default(incident.labels.client, steps.root_cause.suspects[0].client) }}",
            )
            text = text.replace("on_timeout: skip", "on_timeout: proceed")
        (folder / path.name).write_text(text, encoding="utf-8")


def fraud_columns(data: pd.DataFrame) -> dict[str, list[Any]]:
    """Return transactions as the columns of a gateway predict body (features only, JSON
    types): ``{"columns": fraud_columns(data)}`` carries the rows :func:`fraud_rows` gives."""
    # ``tolist`` gives Python floats and strings: a drill sends a million of them.
    return {
        c: (data[c].astype(str) if c == "merchant_category" else data[c].astype(float)).tolist()
        for c in FRAUD_FEATURES
    }


def fraud_rows(data: pd.DataFrame) -> list[dict[str, Any]]:
    """Return transactions as the gateway's request rows (features only, JSON types)."""
    columns = fraud_columns(data)
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _values(data: pd.DataFrame, name: str, convert: Callable[[Any], Any]) -> list[Any]:
    """Return a column's values as Python values (as ``to_dict("records")`` gives them),
    each converted: column by column costs a few calls per column, not per row."""
    return [convert(v) for v in data[name].tolist()]


def impression_rows(data: pd.DataFrame) -> list[dict[str, Any]]:
    """Return impressions as the gateway's request rows (what the recommender scores)."""
    segments = _values(data, "segment", str)
    categories = _values(data, "category", str)
    positions = _values(data, "position", float)
    return [
        {"segment": s, "category": c, "position": p}
        for s, c, p in zip(segments, categories, positions, strict=True)
    ]


def review_rows(data: pd.DataFrame) -> list[dict[str, Any]]:
    """Return product reviews as the gateway's request rows (the text only)."""
    return [{"text": str(t)} for t in data["text"]]


def credit_rows(data: pd.DataFrame) -> list[dict[str, Any]]:
    """Return loan applications as the gateway's request rows (features only, JSON types)."""
    names = [str(k) for k in CREDIT_FEATURES]
    columns = [_values(data, k, str if k == "region" else float) for k in CREDIT_FEATURES]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


@dataclass(frozen=True)
class Release:
    """A version the demo releases while it runs: the batch it adds and its model."""

    name: str
    version: str
    batch: str
    batches: tuple[str, ...]
    validated: bool
    reason: str


#: What the demo releases, in order: the benign retrain, then the poisoned version (the fault).
RELEASES = (
    Release(
        name="retrain",
        version="v2",
        batch=RETRAIN_BATCH,
        batches=(*CLEAN_BATCHES, RETRAIN_BATCH),
        validated=True,
        reason="weekly retrain on the new acme-data batch; passed its holdout review",
    ),
    Release(
        name="fault",
        version="v3",
        batch=POISONED_BATCH,
        batches=(*CLEAN_BATCHES, RETRAIN_BATCH, POISONED_BATCH),
        validated=False,
        reason="retrained with the new brightline-data batch by the vendor pipeline",
    ),
)


@dataclass
class DemoSetup:
    """What the demo prepared: where things are, the served models, and the users."""

    folder: Path
    config_path: Path
    credentials: dict[str, str]
    releases: dict[str, Release] = field(default_factory=dict)


def _save_batch(folder: Path, name: str, data: pd.DataFrame) -> Path:
    path = folder / "batches" / (name.replace("/", "_") + ".parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    data.to_parquet(path, index=False)
    return path


def _features(data: pd.DataFrame) -> pd.DataFrame:
    return data[FRAUD_FEATURES].assign(country_mismatch=data["country_mismatch"].astype(float))


def _train_version(folder: Path, version: str, data: pd.DataFrame, *, validate: bool) -> None:
    """Train a fraud version on a split of ``data``; with ``validate``, write the held-out
    split's scores and labels as its validation evidence."""
    train, held_out = train_test_split(
        data, test_size=0.25, random_state=0, stratify=data["is_fraud"]
    )
    model = train_fraud_detector(train)
    joblib.dump(model, folder / "models" / f"fraud-detector-{version}.joblib")
    if validate:
        scores = model.predict_proba(_features(held_out))[:, 1]
        pd.DataFrame({"score": scores, "label": held_out["is_fraud"].to_numpy()}).to_parquet(
            folder / "models" / f"fraud-detector-{version}-validation.parquet", index=False
        )


def _train_fleet_into(folder: Path) -> None:
    """Generate the batches and train every model into ``folder``."""
    data = {
        CLEAN_BATCHES[0]: fraud_transactions(3000, seed=1),
        CLEAN_BATCHES[1]: fraud_transactions(3000, seed=2),
        RETRAIN_BATCH: fraud_transactions(3000, seed=5),
        POISONED_BATCH: flip_labels(
            fraud_transactions(3000, seed=3, fraud_rate=0.05),
            "is_fraud",
            share=1.0,
            seed=3,
            only_positive=True,
        )[0],
    }
    (folder / "models").mkdir(parents=True, exist_ok=True)
    for batch, frame in data.items():
        _save_batch(folder, batch, frame)
    _train_version(folder, "v1", pd.concat([data[b] for b in CLEAN_BATCHES]), validate=True)
    for release in RELEASES:
        frame = pd.concat([data[b] for b in release.batches], ignore_index=True)
        _train_version(folder, release.version, frame, validate=release.validated)
    credit = train_credit_scorer(credit_applications(3000, seed=4))
    joblib.dump(credit, folder / "models" / "credit-scorer-v1.joblib")
    reviews = sentiment_reviews(2000, seed=11)
    _save_batch(folder, REVIEWS_BATCH, reviews)
    sentiment = train_served_sentiment_model(reviews)
    joblib.dump(sentiment, folder / "models" / "sentiment-model-v1.joblib")
    shown = impressions(6000, seed=21)
    _save_batch(folder, IMPRESSIONS_BATCH, shown)
    joblib.dump(train_recommender(shown), folder / "models" / "recommender-v1.joblib")


def fleet_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where trained fleet models are kept between demo data dirs: ``AIRSOC_FLEET_CACHE``, else
    ``$XDG_CACHE_HOME/airsoc/fleet`` (``~/.cache/airsoc/fleet``); ``AIRSOC_FLEET_CACHE=off``
    keeps none.

    >>> fleet_cache_dir({"AIRSOC_FLEET_CACHE": "off"}) is None
    True
    >>> fleet_cache_dir({"AIRSOC_FLEET_CACHE": "cache"}).name
    'cache'
    """
    env = os.environ if environ is None else environ
    chosen = env.get("AIRSOC_FLEET_CACHE", "").strip()
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    base = env.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "airsoc" / "fleet"


def _fleet_key() -> str:
    """A digest of what the trained fleet depends on: the fleet's code and the libraries that
    train and store it. A change to either trains afresh."""
    import numpy
    import sklearn

    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    for version in (sklearn.__version__, numpy.__version__, pd.__version__, joblib.__version__):
        digest.update(version.encode())
    return digest.hexdigest()[:16]


def _train_fleet(folder: Path) -> None:
    """Put the fleet's batches and trained models in ``folder``: trained once, then copied from
    the cache (:func:`fleet_cache_dir`), so each new data dir does not train the fleet again.
    The cache entry is written aside and renamed into place, so a crash or a second process
    never leaves a half-written one."""
    cache = fleet_cache_dir()
    entry = cache / _fleet_key() if cache is not None else None
    if entry is not None and entry.is_dir():
        shutil.copytree(entry, folder, dirs_exist_ok=True)
        return
    with tempfile.TemporaryDirectory(prefix="airsoc-fleet-") as scratch:
        staging = Path(scratch) / "fleet"
        _train_fleet_into(staging)
        shutil.copytree(staging, folder, dirs_exist_ok=True)
        if entry is None:
            return
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            aside = entry.parent / f".{entry.name}-{secrets.token_hex(4)}"
            shutil.copytree(staging, aside)
            try:
                aside.rename(entry)
            except OSError:  # another process filled the entry first
                shutil.rmtree(aside, ignore_errors=True)
        except OSError as exc:
            # A cache that cannot be written only costs the next start its training.
            logging.getLogger(__name__).warning("the trained fleet was not cached: %s", exc)


def _register_batch(
    s: Any,
    clock: Clock,
    folder: Path,
    batch: str,
    reason: str,
    ingested_at: datetime | None = None,
) -> None:
    path = folder / "batches" / (batch.replace("/", "_") + ".parquet")
    lineage.register_batch(
        s,
        ingested_at=ingested_at,
        clock=clock,
        actor=ACTOR,
        batch_id=batch,
        source=batch.split("/")[0],
        rows=len(pd.read_parquet(path)),
        sha256=lineage.sha256_file(path),
        uri=str(path),
        reason=reason,
    )


def _register_version(
    s: Any,
    clock: Clock,
    folder: Path,
    system: str,
    version: str,
    batches: tuple[str, ...],
    *,
    validated: bool,
    reason: str,
) -> None:
    path = folder / "models" / f"{system}-{version}.joblib"
    evidence = folder / "models" / f"{system}-{version}-validation.parquet"
    lineage.register_model_version(
        s,
        clock=clock,
        actor=ACTOR,
        system=system,
        version=version,
        artifact_uri=str(path),
        sha256=lineage.sha256_file(path),
        training_batches=list(batches),
        input_schema=SCHEMAS[system],
        validation=lineage.describe_validation(evidence) if validated else None,
        reason=reason,
    )


def _register_fleet(store: Store, clock: Clock, folder: Path) -> None:
    _train_fleet(folder)
    credit_batch = _save_batch(folder, "lendco/2026-11-01", credit_applications(3000, seed=4))
    # The fleet registers only the systems section; the runtime checks the whole file.
    raw = yaml.safe_load(read_text(folder / "airsoc.yaml")) or {}
    config = LineageSection.model_validate({"systems": raw.get("systems", {})})
    with store.transaction() as s:
        lineage.sync_systems_from_config(s, clock=clock, actor=ACTOR, config=config)
        # The batches v1 was trained on arrived weeks ago; the batch screen sees only new ones.
        for weeks, batch in zip((3, 2), CLEAN_BATCHES, strict=True):
            when = clock.now() - timedelta(weeks=weeks)
            _register_batch(s, clock, folder, batch, "vendor delivery", ingested_at=when)
        lineage.register_batch(
            s,
            clock=clock,
            actor=ACTOR,
            batch_id="lendco/2026-11-01",
            source="lendco",
            rows=3000,
            ingested_at=clock.now() - timedelta(weeks=3),
            sha256=lineage.sha256_file(credit_batch),
            uri=str(credit_batch),
            reason="loan book export",
        )
        _register_version(
            s, clock, folder, "fraud-detector", "v1", CLEAN_BATCHES, validated=True,
            reason="trained by the demo",
        )  # fmt: skip
        _register_version(
            s, clock, folder, "credit-scorer", "v1", ("lendco/2026-11-01",), validated=False,
            reason="trained by the demo before validation evidence was kept",
        )  # fmt: skip
        _register_batch(
            s, clock, folder, REVIEWS_BATCH, "review export", clock.now() - timedelta(weeks=3)
        )
        _register_version(
            s, clock, folder, "sentiment-model", "v1", (REVIEWS_BATCH,), validated=False,
            reason="trained by the demo",
        )  # fmt: skip
        _register_batch(
            s, clock, folder, IMPRESSIONS_BATCH, "impression log", clock.now() - timedelta(weeks=3)
        )
        _register_version(
            s, clock, folder, "recommender", "v1", (IMPRESSIONS_BATCH,), validated=False,
            reason="trained by the demo",
        )  # fmt: skip
        for system in ("fraud-detector", "credit-scorer", "sentiment-model", "recommender"):
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


def register_release(
    store: Store, clock: Clock, setup: DemoSetup, name: str, *, part: str = "all"
) -> Release:
    """Register the batch (``part="batch"``), the version (``"version"``) or both of release
    ``name`` (``retrain`` or ``fault``), as the team's pipeline would before promoting it.

    What an earlier run registered is left as it is. The benign retrain is marked known-good
    when its version is registered (it passed its holdout review).
    """
    release = setup.releases[name]
    with store.transaction() as s:
        if part in ("batch", "all"):
            try:
                lineage.get_batch(s, batch_id=release.batch)
            except NotFoundError:
                _register_batch(s, clock, setup.folder, release.batch, "vendor delivery")
        if part not in ("version", "all"):
            return release
        try:
            lineage.get_model_version(s, system="fraud-detector", version=release.version)
            return release
        except NotFoundError:
            pass
        _register_version(
            s,
            clock,
            setup.folder,
            "fraud-detector",
            release.version,
            release.batches,
            validated=release.validated,
            reason=release.reason,
        )
        if release.validated:
            lineage.mark_known_good(
                s,
                clock=clock,
                actor=ACTOR,
                system="fraud-detector",
                version=release.version,
                reason="passed its holdout review",
            )
    return release


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
        write_playbooks(folder / "playbooks", approval_timeout=approval_timeout)
    index = folder / POLICY_INDEX
    if not index.exists():
        index.write_bytes(POLICIES_RESOURCE.read_bytes())
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
        releases={r.name: r for r in RELEASES},
    )
