"""The hash-chained audit timeline: tampering is named; concurrent writers never fork it."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update

from airsoc.audit import (
    GENESIS_HASH,
    AuditKey,
    ChainReport,
    anchor_heads,
    append_entry,
    audit_key_for_session,
    list_entries,
    load_anchor,
    upgrade_chains,
    verify_chains,
)
from airsoc.audit.models import AuditChain, AuditEntry
from airsoc.audit.service import canonical_entry, entry_hash, stored_entry_bytes
from airsoc.clock import SimulatedClock, SystemClock
from airsoc.errors import AuditAnchorError, AuditChainBrokenError, AuditKeyError
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


# ---------------------------------------------------------------------- keyed and anchored


def _forge_unkeyed(store: Store, chain: str, *, seq: int, reason: str, keep_key_id: bool) -> None:
    """Rewrite entry ``seq`` as an attacker without the key would: recompute every sha256."""
    with store.transaction() as s:
        rows = (
            s.execute(select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq))
            .scalars()
            .all()
        )
        prev = GENESIS_HASH
        for row in rows:
            if row.seq < seq:
                prev = row.hash
                continue
            if row.seq == seq:
                row.reason = reason
            row.prev_hash = prev
            row.hash = entry_hash(
                stored_entry_bytes(row),
                prev,
            )
            if not keep_key_id:
                row.key_id = None
            prev = row.hash
        head = s.get(AuditChain, chain)
        assert head is not None
        head.head_hash = prev


@pytest.mark.parametrize("keep_key_id", [True, False])
def test_a_rewritten_entry_with_recomputed_sha256_hashes_is_named(
    store: Store, clock: SimulatedClock, keep_key_id: bool
) -> None:
    _chain_of(store, clock, 5)
    _forge_unkeyed(store, "system/fraud", seq=3, reason="nothing happened", keep_key_id=keep_key_id)
    with store.read() as s:
        [report] = verify_chains(s)
    assert (report.ok, report.first_broken_seq) == (False, 3)
    assert report.kind == ("entry_edited" if keep_key_id else "entry_unsigned")


def _rewind(store: Store, chain: str, *, to: int) -> None:
    """Delete the tail after entry ``to`` and set the registry row back to match it."""
    with store.transaction() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq > to))
        last = s.execute(
            select(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == to)
        ).scalar_one()
        s.execute(
            update(AuditChain)
            .where(AuditChain.chain == chain)
            .values(head_seq=to, head_hash=last.hash)
        )


def test_a_rewound_head_is_named_and_nothing_is_appended_on_top_of_it(
    store: Store, clock: SimulatedClock
) -> None:
    _chain_of(store, clock, 6)
    _rewind(store, "system/fraud", to=4)
    with store.read() as s:
        [report] = verify_chains(s)
    assert (report.ok, report.kind, report.entries) == (False, "head_rewound", 4)
    assert "set back" in (report.problem or "")
    # The next legitimate append must not re-sign the rewound head (that would hide it).
    with pytest.raises(AuditChainBrokenError, match="system/fraud"), store.transaction() as s:
        append_entry(s, clock=clock, chain="system/fraud", actor="a", action="x")


def test_a_rewind_to_a_saved_registry_row_is_named_by_the_anchor(
    store: Store, clock: SimulatedClock
) -> None:
    _chain_of(store, clock, 3)
    with store.read() as s:
        saved = s.execute(
            select(AuditChain.head_seq, AuditChain.head_hash, AuditChain.head_mac)
        ).one()
    _chain_of(store, clock, 3)  # entries 4..6
    with store.read() as s:
        anchor = anchor_heads(s, clock=clock)
    # An attacker who kept an old registry row deletes the tail and puts the old row back.
    with store.transaction() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 3))
        s.execute(
            update(AuditChain).values(head_seq=saved[0], head_hash=saved[1], head_mac=saved[2])
        )
    with store.read() as s:
        [without] = verify_chains(s)
        [with_anchor] = verify_chains(s, anchor=load_anchor(anchor.to_json()))
    assert without.ok  # the database alone is consistent: this is what anchors are for
    assert (with_anchor.ok, with_anchor.kind, with_anchor.first_broken_seq) == (
        False,
        "head_rewound",
        4,
    )
    assert "anchor holds 6 entries but 3 are stored" in (with_anchor.problem or "")


def test_a_deleted_chain_is_named_with_the_anchor(store: Store, clock: SimulatedClock) -> None:
    _chain_of(store, clock, 3)
    with store.transaction() as s:
        append_entry(s, clock=clock, chain="system/credit", actor="a", action="x")
    with store.read() as s:
        anchor = anchor_heads(s, clock=clock)
    with store.transaction() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.chain == "system/fraud"))
        s.execute(delete(AuditChain).where(AuditChain.chain == "system/fraud"))
    with store.read() as s:
        assert [r.chain for r in verify_chains(s)] == ["system/credit"]
        reports = {r.chain: r for r in verify_chains(s, anchor=anchor)}
    assert reports["system/credit"].ok
    gone = reports["system/fraud"]
    assert (gone.ok, gone.kind) == (False, "chain_deleted")
    assert "anchor holds 3 entries" in (gone.problem or "")


def test_a_chain_rewritten_with_the_key_after_the_anchor_is_named(
    store: Store, clock: SimulatedClock
) -> None:
    _chain_of(store, clock, 4)
    with store.read() as s:
        anchor = anchor_heads(s, clock=clock)
        key = audit_key_for_session(s)
    # An insider holding the key rebuilds the whole chain with a different entry 2.
    with store.transaction() as s:
        rows = s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        for row in rows:
            s.delete(row)
        s.execute(delete(AuditChain))
    with store.transaction() as s:
        for row in rows:
            append_entry(
                s,
                clock=clock,
                chain=row.chain,
                actor=row.actor,
                action=row.action,
                reason="rewritten" if row.seq == 2 else row.reason,
                data=row.data,
                key=key,
            )
    with store.read() as s:
        [plain] = verify_chains(s)
        [anchored] = verify_chains(s, anchor=anchor)
    assert plain.ok
    assert (anchored.ok, anchored.kind, anchored.first_broken_seq) == (
        False,
        "rewritten_since_anchor",
        4,
    )


def test_an_edited_or_foreign_anchor_is_refused(store: Store, clock: SimulatedClock) -> None:
    _chain_of(store, clock, 2)
    with store.read() as s:
        anchor = anchor_heads(s, clock=clock)
        edited = anchor.model_copy(deep=True)
        edited.chains[0].entries = 1
        with pytest.raises(AuditAnchorError, match="was edited"):
            verify_chains(s, anchor=edited)
        with pytest.raises(AuditAnchorError, match="signed with audit key"):
            verify_chains(s, anchor=anchor, key=AuditKey(b"another key of 32 bytes at least!"))
    with pytest.raises(AuditAnchorError, match="not an airsoc audit anchor"):
        load_anchor("{}")


def test_an_anchor_never_vouches_for_a_broken_chain(store: Store, clock: SimulatedClock) -> None:
    _chain_of(store, clock, 3)
    with store.transaction() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"))
    with pytest.raises(AuditChainBrokenError, match="entry 2"), store.read() as s:
        anchor_heads(s, clock=clock)


def test_entries_signed_with_another_key_are_named_as_such(
    store: Store, clock: SimulatedClock
) -> None:
    _chain_of(store, clock, 2)
    with store.read() as s:
        [report] = verify_chains(s, key=AuditKey(b"another key of 32 bytes at least!"))
    assert (report.ok, report.kind, report.first_broken_seq) == (False, "other_key", 1)
    with pytest.raises(AuditKeyError, match="restore the key"), store.transaction() as s:
        append_entry(
            s,
            clock=clock,
            chain="system/fraud",
            actor="a",
            action="x",
            key=AuditKey(b"another key of 32 bytes at least!"),
        )


def _make_legacy(store: Store) -> None:
    """Turn every chain into what a store written before keyed audit holds."""
    with store.read() as s:
        chains = s.execute(select(AuditChain.chain)).scalars().all()
    for chain in chains:
        _forge_unkeyed(store, chain, seq=0, reason="", keep_key_id=False)
    with store.transaction() as s:
        s.execute(update(AuditChain).values(key_id=None, head_mac=None))


def test_chains_written_before_keyed_audit_are_verified_then_re_signed(
    store: Store, clock: SimulatedClock
) -> None:
    _chain_of(store, clock, 3)
    with store.transaction() as s:
        for i in range(2):
            append_entry(s, clock=clock, chain="system/credit", actor="a", action=f"x{i}")
    _make_legacy(store)
    with store.transaction() as s:
        s.execute(text("UPDATE audit_entries SET reason = 'forged' WHERE chain = 'system/credit'"))
    with store.read() as s:
        assert {r.chain: r.kind for r in verify_chains(s)} == {
            "system/credit": "entry_unsigned",
            "system/fraud": "entry_unsigned",
        }
    with store.transaction() as s:
        upgraded = {r.chain: r.ok for r in upgrade_chains(s)}
    # A chain that fails its old check is not re-signed: that would launder the forgery.
    assert upgraded == {"system/credit": False, "system/fraud": True}
    with store.read() as s:
        after = {r.chain: r for r in verify_chains(s)}
    assert after["system/fraud"].ok
    assert not after["system/credit"].ok
    with store.transaction() as s:
        assert upgrade_chains(s) == [
            ChainReport(
                chain="system/credit",
                entries=2,
                ok=False,
                problem="entry 1 does not verify as written before keyed audit",
                kind="entry_edited",
            )
        ]


def test_appending_to_a_chain_of_before_keyed_audit_re_signs_it_first(
    store: Store, clock: SimulatedClock
) -> None:
    _chain_of(store, clock, 3)
    _make_legacy(store)
    with store.transaction() as s:
        append_entry(s, clock=clock, chain="system/fraud", actor="a", action="x")
    with store.read() as s:
        [report] = verify_chains(s)
    assert (report.ok, report.entries) == (True, 4)


def test_a_store_migrated_from_unkeyed_audit_keeps_its_history(
    tmp_path: Path, clock: SimulatedClock
) -> None:
    from alembic import command

    from airsoc.store.engine import alembic_config

    settings = Settings.resolve(data_dir=tmp_path / "data", environ={})
    settings.data_dir.mkdir()
    old = Store(settings)
    with old.engine.begin() as conn:
        config = alembic_config(settings.database_url)
        config.attributes["connection"] = conn
        command.upgrade(config, "0008_retrieval_controls")
    prev = GENESIS_HASH
    with old.engine.begin() as conn:
        for seq in (1, 2, 3):
            at = clock.now()
            digest = entry_hash(
                canonical_entry(
                    chain="incident/1", seq=seq, at=at, actor="a", action="x", reason="", data={}
                ),
                prev,
            )
            conn.execute(
                text(
                    "INSERT INTO audit_entries (chain, seq, at, actor, action, reason, data, "
                    "prev_hash, hash) VALUES ('incident/1', :seq, :at, 'a', 'x', '', '{}', "
                    ":prev, :hash)"
                ),
                {"seq": seq, "at": at.replace(tzinfo=None), "prev": prev, "hash": digest},
            )
            prev = digest
        conn.execute(text("INSERT INTO audit_chains VALUES ('incident/1', 3, :h)"), {"h": prev})
    old.close()
    store = Store.open(settings)
    with store.read() as s:
        [before] = verify_chains(s)
    assert before.kind == "entry_unsigned"
    with store.transaction() as s:
        [upgraded] = upgrade_chains(s)
    assert upgraded.ok
    with store.read() as s:
        [after] = verify_chains(s)
        assert [e.seq for e in list_entries(s, chain="incident/1")] == [1, 2, 3]
    assert (after.ok, after.entries) == (True, 3)
    store.close()
