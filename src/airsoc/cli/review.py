"""``airsoc review ...``: the review board's queue, decisions and action items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from airsoc.cli.incidents import ActorOpt, JsonOpt, actor_name
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state

if TYPE_CHECKING:
    from airsoc.reporting.review import ActionItemEntry

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_(
    status: Annotated[
        str, typer.Option(help="pending, approved, changes_requested, withdrawn or all")
    ] = "pending",
    kind: Annotated[str | None, typer.Option(help="Only this kind (postmortem, ...)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the board's queue (pending items unless asked otherwise), oldest first."""
    from airsoc.reporting.review import review_queue

    with state.store().read() as s:
        rows = review_queue(s, status=None if status == "all" else status, kind=kind)
    if as_json:
        print_json(rows)
        return
    print_table(
        "Review queue",
        ["id", "kind", "reference", "title", "status", "submitted"],
        [
            (i.id, i.kind, i.reference, i.title, i.status, f"{i.submitted_at:%Y-%m-%d %H:%M}")
            for i in rows
        ],
    )


@app.command()
def file(
    kind: Annotated[str, typer.Option(help="postmortem, tabletop_debrief, ...")],
    reference: Annotated[str, typer.Option(help="What it refers to (PM-3, a debrief id)")],
    title: Annotated[str, typer.Option(help="A title for the board")],
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Put an item in the board's queue."""
    from airsoc.reporting.review_queue import file_review_item

    with state.store().transaction() as s:
        item = file_review_item(
            s, clock=state.clock, kind=kind, reference=reference, title=title,
            actor=actor_name(actor),
        )  # fmt: skip
    if as_json:
        print_json(item)
    else:
        console.print(f"review {item.id}: {item.kind} {item.reference} ({item.status})")


@app.command()
def show(
    item_id: Annotated[int, typer.Argument(help="Review item number")],
    as_json: JsonOpt = False,
) -> None:
    """Show an item with its decisions and action items."""
    from airsoc.reporting.review import get_review_item

    with state.store().read() as s:
        view = get_review_item(s, item_id=item_id, at=state.clock.now())
    if as_json:
        print_json(view)
        return
    console.print(
        f"review {view.id}: {view.title} [{view.kind} {view.reference}] {view.status}",
        markup=False,
    )
    for d in view.decisions:
        console.print(f"  {d.decided_at:%Y-%m-%d %H:%M} {d.reviewer}: {d.decision}: {d.text}",
                      markup=False)  # fmt: skip
    _print_items("Action items", view.action_items)


@app.command()
def decide(
    item_id: Annotated[int, typer.Argument(help="Review item number")],
    text: Annotated[str, typer.Option(help="The board's words: what and why")],
    approve: Annotated[
        bool, typer.Option("--approve/--request-changes", help="Approve, or request changes")
    ],
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve an item or request changes, as the reviewer."""
    from airsoc.reporting.review import decide_review

    with state.store().transaction() as s:
        view = decide_review(
            s,
            clock=state.clock,
            item_id=item_id,
            decision="approve" if approve else "request_changes",
            reviewer=actor_name(actor),
            text=text,
        )
    if as_json:
        print_json(view)
    else:
        console.print(f"review {view.id}: {view.status}")


@app.command("add-item")
def add_item(
    item_id: Annotated[int, typer.Argument(help="Review item number")],
    title: Annotated[str, typer.Option(help="What to change")],
    owner: Annotated[str, typer.Option(help="Who owns it")],
    due: Annotated[
        datetime | None, typer.Option(help="Due date (UTC); default by the incident's severity")
    ] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an action item from a review."""
    from datetime import UTC

    from airsoc.reporting.postmortems import ActionItemIn
    from airsoc.reporting.review import add_review_action_item

    due_at = due.replace(tzinfo=UTC) if due is not None and due.tzinfo is None else due
    with state.store().transaction() as s:
        item = add_review_action_item(
            s,
            clock=state.clock,
            item_id=item_id,
            item=ActionItemIn(title=title, owner=owner, due_at=due_at),
            actor=actor_name(actor),
        )
    if as_json:
        print_json(item)
    else:
        console.print(f"action item {item.id}: due {item.due_at:%Y-%m-%d}, owner {item.owner}")


@app.command("set-item")
def set_item(
    action_item_id: Annotated[int, typer.Argument(help="Action item number")],
    status: Annotated[str, typer.Option(help="open, in_progress, done or cancelled")],
    actor: ActorOpt = None,
) -> None:
    """Move an action item (of a review or a post-mortem) to another status."""
    from airsoc.reporting.postmortems import ActionItemUpdate
    from airsoc.reporting.review import change_action_item

    with state.store().transaction() as s:
        item = change_action_item(
            s,
            clock=state.clock,
            action_item_id=action_item_id,
            changes=ActionItemUpdate(status=status),
            actor=actor_name(actor),
        )
    console.print(f"action item {item.id}: {item.status}")


@app.command("items")
def items(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue items")] = False,
    status: Annotated[str | None, typer.Option(help="Only this status")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List action items of post-mortems and reviews, soonest due first."""
    from airsoc.reporting.review import list_action_items

    with state.store().read() as s:
        rows = list_action_items(
            s, status=status, owner=owner, at=state.clock.now(), overdue_only=overdue
        )
    if as_json:
        print_json(rows)
        return
    _print_items("Overdue action items" if overdue else "Action items", rows)


def _print_items(title: str, entries: Sequence[ActionItemEntry]) -> None:
    print_table(
        title,
        ["id", "action", "owner", "due", "status", "from"],
        [
            (
                i.id,
                i.title,
                i.owner,
                f"{i.due_at:%Y-%m-%d}" + (" (overdue)" if i.overdue else ""),
                i.status,
                i.source,
            )
            for i in entries
        ],
    )
