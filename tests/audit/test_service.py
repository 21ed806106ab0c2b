"""The hash-chained audit timeline: tampering is named; concurrent writers never fork it."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import text

from airsoc.audit import append_entry, list_entries, verify_chains
from airsoc.clock import SimulatedClock, SystemClock
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.testing import CliResult


def _chain_of(store: Store, clock: SimulatedClock, n: int) -> None:
    with store.transaction() as s:
        for i in range(n):
            append_entry(
                s,
                clock=clock,
                chain="system/fraud",
                actor=f"u{i}",
                action="routing.switch",
                reason=f"r{i}",
                data={"i": i, "share": 0.1 * i},
            )


def test_edited_entry_is_named(store: Store, clock: SimulatedClock) -> None:
    _chain_of(store, clock, 5)
    with store.transaction() as s:
        s.execute(
            text(
                "UPDATE audit_entries SET reason = 'nothing happened' "
                "WHERE chain = 'system/fraud' AND seq = 3"
            )
        )
    with store.read() as s:
        [report] = verify_chains(s)
    assert not report.ok
    assert report.first_broken_seq == 3
    assert "edited" in (report.problem or "")


def test_deleted_entry_is_named(store: Store, clock: SimulatedClock) -> None:
    _chain_of(store, clock, 5)
    with store.transaction() as s:
        s.execute(text("DELETE FROM audit_entries WHERE chain = 'system/fraud' AND seq = 2"))
    with store.read() as s:
        [report] = verify_chains(s)
    assert (report.ok, report.first_broken_seq) == (False, 2)


def test_truncated_tail_is_found(store: Store, clock: SimulatedClock) -> None:
    _chain_of(store, clock, 4)
    with store.transaction() as s:
        s.execute(text("DELETE FROM audit_entries WHERE chain = 'system/fraud' AND seq = 4"))
    with store.read() as s:
        [report] = verify_chains(s)
    assert (report.ok, report.first_broken_seq) == (False, 4)


def test_rolled_back_change_leaves_no_entry(store: Store, clock: SimulatedClock) -> None:
    def crash_mid_transaction() -> None:
        with store.transaction() as s:
            append_entry(s, clock=clock, chain="c", actor="a", action="x")
            raise RuntimeError("crash after the entry, before commit")

    with pytest.raises(RuntimeError):
        crash_mid_transaction()
    with store.read() as s:
        assert list_entries(s, chain="c") == []
        assert verify_chains(s) == []


def test_cli_verify_names_the_broken_entry(cli: object, tmp_path: Path) -> None:
    run = cli
    assert callable(run)
    ok: CliResult = run(
        "incidents", "declare", "--system", "s", "--failure-mode", "data_drift", "--summary", "x"
    )
    assert ok.exit_code == 0, ok.stderr
    for i in range(3):
        assert run("incidents", "note", "1", f"note {i}").exit_code == 0
    good: CliResult = run("audit", "verify")
    assert good.exit_code == 0
    assert "4 entries" in good.stdout
    store = Store.open(Settings.resolve(data_dir=tmp_path / "airsoc-data", environ={}))
    with store.transaction() as s:
        s.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 3"))
    store.close()
    bad: CliResult = run("audit", "verify")
    assert bad.exit_code == 1
    assert "incident/1" in bad.stderr
    assert "entry 3" in bad.stderr
    assert "Traceback" not in bad.stderr


def _append_many(url: str, data_dir: str, worker: int, count: int) -> None:
    store = Store.open(Settings(data_dir=Path(data_dir), database_url=url), migrate=False)
    clock = SystemClock()
    for i in range(count):
        with store.transaction() as s:
            append_entry(
                s,
                clock=clock,
                chain="incident/1",
                actor=f"worker-{worker}",
                action="incident.note",
                reason=f"{worker}:{i}",
            )
    store.close()


def test_eight_processes_append_without_forking_or_losing(store: Store) -> None:
    workers, per_worker = 8, 25
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_append_many,
            args=(store.settings.database_url, str(store.settings.data_dir), w, per_worker),
        )
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    with store.read() as s:
        entries = list_entries(s, chain="incident/1")
        [report] = verify_chains(s)
    assert report.ok, report.problem
    assert [e.seq for e in entries] == list(range(1, workers * per_worker + 1))
    assert sorted(e.reason for e in entries) == sorted(
        f"{w}:{i}" for w in range(workers) for i in range(per_worker)
    )
