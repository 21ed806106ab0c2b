"""The audit key: outside the database, 0600, from the environment first, one per data dir."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest

from airsoc.audit import AuditKey, load_audit_key
from airsoc.errors import AuditKeyError


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    key = load_audit_key(data_dir=tmp_path / "data", environ={})
    path = tmp_path / "data" / "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_audit_key(data_dir=tmp_path / "data", environ={}) == key
    assert key.secret.hex() == path.read_text().strip()
    assert key.secret.hex() not in repr(key)


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    from_file = load_audit_key(data_dir=tmp_path, environ={})
    from_env = load_audit_key(data_dir=tmp_path, environ={"AIRSOC_AUDIT_KEY": "ab" * 32})
    assert from_env.secret == bytes.fromhex("ab" * 32)
    assert from_env != from_file
    text_key = load_audit_key(data_dir=tmp_path, environ={"AIRSOC_AUDIT_KEY": "x" * 40})
    assert text_key.secret == b"x" * 40


@pytest.mark.parametrize("value", ["short", "x" * 31])
def test_a_short_environment_key_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(AuditKeyError, match="too short"):
        load_audit_key(data_dir=tmp_path, environ={"AIRSOC_AUDIT_KEY": value})


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    load_audit_key(data_dir=tmp_path, environ={})
    (tmp_path / "audit.key").chmod(0o644)
    with pytest.raises(AuditKeyError, match="chmod 600"):
        load_audit_key(data_dir=tmp_path, environ={})


def test_a_malformed_key_file_is_refused_and_a_missing_one_not_invented(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_text("not a key")
    path.chmod(0o600)
    with pytest.raises(AuditKeyError, match="64 hex digits"):
        load_audit_key(data_dir=tmp_path, environ={})
    with pytest.raises(AuditKeyError, match="no audit key"):
        load_audit_key(data_dir=tmp_path / "elsewhere", environ={}, create=False)


def _key_id(data_dir: str, out: multiprocessing.Queue[str]) -> None:
    out.put(load_audit_key(data_dir=data_dir, environ={}).key_id)


def test_processes_creating_the_key_at_once_share_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_key_id, args=(str(tmp_path), out)) for _ in range(4)]
    for p in procs:
        p.start()
    ids = {out.get(timeout=120) for _ in procs}
    for p in procs:
        p.join(timeout=120)
    assert ids == {AuditKey.from_text((tmp_path / "audit.key").read_text()).key_id}


def test_verifying_without_the_key_is_an_error_not_a_new_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airsoc.audit import append_entry, verify_chains
    from airsoc.clock import SimulatedClock
    from airsoc.settings import Settings
    from airsoc.store import Store

    monkeypatch.delenv("AIRSOC_AUDIT_KEY", raising=False)
    store = Store.open(Settings.resolve(data_dir=tmp_path, environ={}))
    with store.read() as s:
        assert verify_chains(s) == []  # nothing to verify needs no key
    with store.transaction() as s:
        append_entry(s, clock=SimulatedClock(), chain="c", actor="a", action="x")
    (tmp_path / "audit.key").unlink()
    with pytest.raises(AuditKeyError, match="no audit key"), store.read() as s:
        verify_chains(s)
    assert not (tmp_path / "audit.key").exists()
    store.close()
