"""The live console: offline API docs, acknowledgement, approval countdowns, times to the second,
rendered Markdown and step outputs, and unknown values never shown as 0."""

from __future__ import annotations

import re
from datetime import timedelta

from airsoc.incidents.service import add_note, declare_incident, get_incident, transition_incident
from airsoc.reporting.charts import Series, bar_chart, line_chart
from airsoc.response import PlaybookRunner, ResponseServices
from airsoc.response.config import EscalationConfig
from airsoc.response.escalation import is_acknowledged, post_status_update
from airsoc.runtime import live_control_plane
from airsoc.runtime.registries import build_action_registry
from tests.server.conftest import TIMED_ROLLBACK_PLAYBOOK, Api, seed_operations
from tests.server.test_console import csrf_of, login

#: A timestamp with a fraction of a second, as ``isoformat()`` writes it.
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")
#: JSON an engineer wrote, not a sentence: ``{"key": ...`` or ``"key": false``.
RAW_JSON = re.compile(r'\{&#34;|\{"|&#34;\w+&#34;:|"\w+": ?(true|false|null|\d|")')


def text_of(html: str) -> str:
    """Return what a reader sees of a page: its text without scripts, tags or attributes."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def declare(api: Api) -> int:
    with api.store.transaction() as s:
        return declare_incident(
            s,
            clock=api.clock,
            actor="system:monitor/fraud-input-drift",
            system="fraud-detector",
            failure_mode="data_drift",
            summary="PSI 0.31 on amount",
        ).id


def test_api_docs_are_served_by_the_app_without_any_other_origin(api: Api) -> None:
    for path, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        r = api.client.get(path)
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "script-src 'self';" in csp
        assert "http" not in csp
        assert "http://" not in r.text
        assert "https://" not in r.text
        assert re.findall(r"<script>", r.text) == []  # nothing inline: the CSP would refuse it
        srcs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert any(s.endswith(asset) for s in srcs)
        for src in srcs:
            loaded = api.client.get(src)
            assert loaded.status_code == 200, src
            assert len(loaded.content) > 500, src
    assert api.client.get("/openapi.json").json()["info"]["title"] == "airsoc"


def test_a_responder_acknowledges_once_and_time_to_acknowledge_is_measured(api: Api) -> None:
    inc = declare(api)
    assert (
        api.client.get(f"/api/v1/incidents/{inc}/times", headers=api.auth("dana")).json()[
            "tta_seconds"
        ]
        is None
    )
    api.clock.advance(timedelta(minutes=1))
    with api.store.transaction() as s:
        add_note(s, clock=api.clock, incident_id=inc, actor="sam", text="looking")
    assert (
        api.client.get(f"/api/v1/incidents/{inc}/times", headers=api.auth("dana")).json()[
            "tta_seconds"
        ]
        == 60.0
    )  # without an acknowledgement, the first person's entry stands for it
    api.clock.advance(timedelta(minutes=6, seconds=5))
    viewer = api.client.post(f"/api/v1/incidents/{inc}/acknowledge", headers=api.auth("vic"))
    assert viewer.status_code == 403
    r = api.client.post(
        f"/api/v1/incidents/{inc}/acknowledge", headers=api.auth("dana"), json={"reason": "on it"}
    )
    assert r.status_code == 201
    assert r.json()["action"] == "incident.acknowledged"
    times = api.client.get(f"/api/v1/incidents/{inc}/times", headers=api.auth("dana")).json()
    assert times["tta_seconds"] == 425.0
    again = api.client.post(f"/api/v1/incidents/{inc}/acknowledge", headers=api.auth("sam"))
    assert again.status_code == 409
    assert "already acknowledged by dana" in again.json()["message"]
    with api.store.read() as s:
        detail = get_incident(s, incident_id=inc)
    assert detail.acknowledged_by == "dana"
    assert is_acknowledged(detail)  # escalation stops paging


def test_a_closed_incident_cannot_be_acknowledged(api: Api) -> None:
    inc = declare(api)
    with api.store.transaction() as s:
        transition_incident(
            s, clock=api.clock, incident_id=inc, to="false_positive", actor="dana", reason="noise"
        )
    r = api.client.post(f"/api/v1/incidents/{inc}/acknowledge", headers=api.auth("dana"))
    assert r.status_code == 409
    assert "only an open incident" in r.json()["message"]


def test_the_console_acknowledges_as_the_logged_in_user(api: Api) -> None:
    inc = declare(api)
    login(api.client, "vic")
    page = api.client.get(f"/incidents/{inc}").text
    assert "Acknowledge</button>" not in page  # a viewer has no button
    api.client.cookies.clear()
    login(api.client, "dana")
    page = api.client.get(f"/incidents/{inc}").text
    assert f'action="/incidents/{inc}/acknowledge"' in page
    assert '<td id="acknowledged">not yet</td>' in page
    forged = api.client.post(
        f"/incidents/{inc}/acknowledge", data={"csrf_token": "x"}, follow_redirects=False
    )
    assert forged.status_code == 403
    api.clock.advance(timedelta(seconds=42))
    r = api.client.post(f"/incidents/{inc}/acknowledge", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 200
    assert re.search(r'id="acknowledged">by dana at <time datetime="[^"]+Z">', r.text)
    assert "Acknowledge</button>" not in r.text
    assert "TTA 42 s" in r.text


def test_a_pending_approval_counts_down_to_its_timeout(api: Api) -> None:
    story = seed_operations(api.store, api.clock, playbook=TIMED_ROLLBACK_PLAYBOOK)
    login(api.client, "sam")
    for path in ("/", f"/incidents/{story.incident_id}"):
        page = api.client.get(path).text
        found = re.search(r'class="countdown" data-deadline="([^"]+)" data-then="abort"', page)
        assert found, path
        deadline = found.group(1)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", deadline)
        server_now = re.search(r'data-server-now="([^"]+)"', page)
        assert server_now
        # 30 minutes after the request, to the second, on the server's clock
        assert deadline > server_now.group(1)
    assert "Approve contain</button>" in page
    assert "data-inplace" in page


def test_incident_pages_show_sentences_markdown_and_seconds_not_json(api: Api) -> None:
    story = seed_operations(api.store, api.clock)
    with api.store.transaction() as s:
        post_status_update(
            s,
            clock=api.clock,
            incident_id=story.incident_id,
            config=EscalationConfig(),
            author="system:escalation",
        )
    login(api.client, "sam")
    page = api.client.get(f"/incidents/{story.incident_id}").text
    r = api.client.post(
        f"/approvals/{story.approval_id}/decide",
        data={"csrf_token": csrf_of(page), "decision": "approve", "reason": "v6 is clean"},
    )
    assert r.status_code == 200
    # a worker carries the run on through the gateway's routing and stores the rollback's output
    PlaybookRunner(
        store=api.store,
        clock=api.clock,
        worker_id="test",
        registry=build_action_registry(plugins=False),
        services=ResponseServices(
            store=api.store,
            settings=api.store.settings,
            control_plane=live_control_plane(store=api.store, clock=api.clock),
        ),
    ).run_until_idle()
    page = api.client.get(f"/incidents/{story.incident_id}").text
    seen = text_of(page)
    assert "<strong>INC-" in page  # the status update's Markdown, rendered
    assert "**" not in seen
    assert MICROSECONDS.search(page) is None
    assert RAW_JSON.search(seen) is None, RAW_JSON.search(seen)
    assert "succeeded" in page
    assert "Rolled back fraud-detector from v7 to v6." in page
    assert '<table class="output">' in page
    assert re.search(r"<time datetime=\"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\">", page)


def test_unknown_values_are_written_unknown_never_drawn_as_zero() -> None:
    svg = bar_chart(["drift"], [Series("MTTA", [None]), Series("MTTC", [12.0])], title="t")
    assert svg.count("<rect") == 1 + 1 + 2  # background, one bar, two legend keys
    assert ">unknown</text>" in svg
    assert "MTTA drift: unknown" in svg
    line = line_chart(["a", "b", "c", "d"], [Series("s", [1.0, None, 2.0, 3.0])], title="t")
    # The gap splits the line; nothing drops to 0; the lone point before it is a dot.
    assert line.count("<polyline") == 1
    assert line.count("<circle") == 1


def test_the_overview_writes_unknown_mean_times_as_unknown(api: Api) -> None:
    inc = declare(api)
    api.clock.advance(timedelta(minutes=3))
    with api.store.transaction() as s:
        transition_incident(
            s, clock=api.clock, incident_id=inc, to="contained", actor="system:p", reason="x"
        )
    login(api.client, "vic")
    page = api.client.get("/").text
    chart = page[page.index('aria-label="Mean response times (minutes)"') :]
    chart = chart[: chart.index("</svg>")]
    assert "MTTA data drift: unknown" in chart
    assert "MTTC data drift: 3" in chart


def test_the_approvals_table_wraps_its_cells_to_fit_its_panel(api: Api) -> None:
    seed_operations(api.store, api.clock, playbook=TIMED_ROLLBACK_PLAYBOOK)
    login(api.client, "sam")
    page = api.client.get("/").text
    # The table sits in a container that scrolls rather than spill over the panel's edge ...
    table = re.search(
        r'<div class="table-wrap">\s*<table class="([^"]*)" id="pending-approvals">(.*?)</table>'
        r"\s*</div>",
        page,
        re.S,
    )
    assert table, "the approvals table has no wrapping container"
    assert "wrap" in table.group(1).split()
    # ... and its long cells (the countdown, the requester and time) wrap instead of running on.
    cells = re.findall(r"<td([^>]*)>(.*?)</td>", table.group(2), re.S)
    timeout = next(attrs for attrs, text in cells if 'class="countdown"' in text)
    assert "nowrap" not in timeout
    # The requester is an id without spaces ("playbook:poisoned-training-data#1"): it may break
    # anywhere.
    assert 'class="breakable"' in cells[-2][0]
    css = api.client.get("/static/console.css").text
    assert re.search(r"\.table-wrap \{[^}]*overflow-x: auto", css)
    assert re.search(r"table\.wrap td \{[^}]*overflow-wrap: break-word", css)
    assert re.search(r"table\.wrap td\.breakable \{[^}]*overflow-wrap: anywhere", css)
