"""Chat drills on the support bot, at reduced scale: chat traffic reaches the gateway's chat
endpoint and the LLM monitors; prompt injection (direct, through a retrieved document, through
a tool's output) and a corrupted policy document with a feedback loop are declared, contained,
investigated and written up by the platform; a legitimate policy update raises nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from airsoc.clock import SimulatedClock
from airsoc.drills.chatbot import DrillBot, edit_document
from airsoc.drills.context import DrillContext
from airsoc.drills.injectors import get_injector
from airsoc.drills.runner import DrillOptions, run_drill
from airsoc.drills.scenario import load_scenario, parse_scenario
from airsoc.drills.traffic import ChatStream, TrafficControl, chat_questions
from airsoc.errors import ConfigError, InputError
from airsoc.fleet.rag.policies import POLICIES_RESOURCE
from airsoc.incidents.findings import FindingIn, FindingKind, add_finding, list_findings
from airsoc.incidents.service import declare_incident, list_incidents
from airsoc.response.escalation import list_communications
from airsoc.runtime.reporting_actions import draft_communication
from airsoc.serving import get_retrieval, get_route
from airsoc.store import Store
from airsoc.telemetry import read_events
from tests.drills.stores import drill_store

# ------------------------------------------------------------------------------ the pieces


def _bot(tmp_path: Path) -> tuple[DrillBot, DrillContext, SimulatedClock]:
    (tmp_path / "policies.yaml").write_bytes(POLICIES_RESOURCE.read_bytes())
    clock = SimulatedClock()
    bot = DrillBot(clock=clock, folder=tmp_path)
    ctx = DrillContext(
        clock=clock,
        store=None,
        folder=tmp_path,
        traffic=TrafficControl(seed=1),
        seed=1,
        started_at=clock.now(),
        bot=bot,
        inject_id="x",
    )
    return bot, ctx, clock


def test_chat_questions_are_varied_seeded_and_can_keep_to_topics() -> None:
    first = chat_questions(np.random.default_rng(4), 400)
    assert first == chat_questions(np.random.default_rng(4), 400)
    assert len(set(first)) > 150
    billing = chat_questions(np.random.default_rng(4), 50, policy_share=1.0, topics=["invoice"])
    assert all("invoice" in q.lower() for q in billing)
    with pytest.raises(InputError, match="topics: no support question mentions"):
        chat_questions(np.random.default_rng(4), 1, topics=["submarine"])


def test_chat_streams_send_their_rate_in_sessions_and_scale() -> None:
    control = TrafficControl(seed=5)
    control.add_chat_stream(
        ChatStream(system="support-bot", client="help-center", turns_per_hour=100, users=10)
    )
    control.scale(0.5)
    turns = [t for k in range(12) for t in control.chat_round(elapsed_s=k * 300.0, step_s=300)]
    assert len(turns) == 50  # 100 an hour at half scale, for an hour
    assert {t.client for t in turns} == {"help-center"}
    assert len({t.session_id for t in turns}) <= 10 * 2  # ten people, a few sessions each
    assert all(t.messages[-1]["role"] == "user" and t.question for t in turns)


def test_a_chat_stream_with_no_matching_topic_is_a_located_scenario_error() -> None:
    text = """\
name: x
fleet: {systems: [support-bot]}
traffic:
  duration: 1h
  chat: [{system: support-bot, client: app, rate: 10, topics: [submarine]}]
expectations: {no_incident: true}
"""
    with pytest.raises(ConfigError, match=r"traffic\.chat\[0\].*submarine"):
        parse_scenario(text, source="x.yaml")


def test_direct_and_tool_injection_add_an_attacker_stream(tmp_path: Path) -> None:
    _, ctx, _ = _bot(tmp_path)
    injector = get_injector("prompt_injection")
    injector.apply(ctx, injector.validate({"channel": "direct", "user": "mallory", "rate": 12}))
    injector.apply(ctx, injector.validate({"channel": "tool", "client": "orders", "rate": 12}))
    turns = ctx.traffic.chat_round(elapsed_s=0.0, step_s=3600.0)
    direct = [t for t in turns if t.client == "help-center"]
    tool = [t for t in turns if t.client == "orders"]
    assert len(direct) == 12
    assert {t.session_id for t in direct} == {"mallory"}
    assert len(tool) == 12
    assert len({t.session_id for t in tool}) > 1
    assert all(m["role"] != "tool" for t in direct for m in t.messages)
    assert all(t.messages[2]["role"] == "tool" for t in tool)
    assert all(t.messages[-1]["role"] == "user" for t in tool)


def test_a_planted_document_reaches_the_bots_answers(tmp_path: Path) -> None:
    bot, ctx, _clock = _bot(tmp_path)
    injector = get_injector("prompt_injection")
    injector.apply(ctx, injector.validate({"channel": "document"}))
    reply = bot.bot.answer("How many days until a refund reaches my card?")
    assert reply.mode == "rag"
    assert reply.citations == ["KB-REFUND-FAQ"]
    assert "security code" in reply.text  # the extractive bot repeats what it retrieved
    # Questions on other topics do not retrieve it.
    assert "KB-REFUND-FAQ" not in bot.bot.answer("How long are backups kept?").citations


def test_corrupted_document_changes_only_the_index_and_feeds_answers_back(
    tmp_path: Path,
) -> None:
    bot, ctx, clock = _bot(tmp_path)
    approved = (tmp_path / "policies.yaml").read_text(encoding="utf-8")
    injector = get_injector("corrupted_document")
    params = injector.validate(
        {
            "document": "POL-CS-001",
            "replace": {"14 days": "90 days"},
            "feedback_loop": {"every": "1h", "top": 2},
        }
    )
    injector.apply(ctx, params)
    assert "90 days" in bot.document("POL-CS-001").sections["1"]
    assert (tmp_path / "policies.yaml").read_text(encoding="utf-8") == approved
    clock.advance(timedelta(minutes=10))
    for _ in range(3):
        bot.bot.answer("How long do I have to ask for a refund on a monthly plan?")
    bot.bot.answer("How long are backups kept?")
    clock.advance(timedelta(minutes=50))
    ((at, name, call),) = ctx.scheduled
    assert at == 3600.0
    assert "FAQ pipeline" in name
    ctx.scheduled.clear()
    call(ctx)
    faq = bot.document("FAQ-001")
    assert "90 days" in faq.sections["1"]  # the most frequent answer came back first
    assert "FAQ-002" in bot.bot.index.documents
    assert len(ctx.scheduled) == 1  # the pipeline runs again an hour later
    with pytest.raises(InputError, match="POL-CS-001 has no text 'no such words'"):
        injector.apply(
            ctx, injector.validate({"document": "POL-CS-001", "replace": {"no such words": "x"}})
        )


def test_a_policy_update_is_approved_and_reindexed_together(tmp_path: Path) -> None:
    bot, ctx, _clock = _bot(tmp_path)
    injector = get_injector("policy_update")
    assert injector.benign
    injector.apply(
        ctx,
        injector.validate(
            {"document": "POL-HR-001", "version": "5", "replace": {"28 days": "30 days"}}
        ),
    )
    raw = yaml.safe_load((tmp_path / "policies.yaml").read_text(encoding="utf-8"))
    (record,) = [r for r in raw if r["id"] == "POL-HR-001"]
    assert record["version"] == "5"
    assert "30 days" in record["sections"]["1"]
    assert bot.document("POL-HR-001").version == "5"
    assert "30 days" in bot.bot.answer("How many days of annual leave do I get?").text


def test_llm_injectors_need_the_support_bot(tmp_path: Path) -> None:
    _, ctx, _ = _bot(tmp_path)
    ctx.bot = None
    injector = get_injector("corrupted_document")
    with pytest.raises(InputError, match=r"add support-bot to the scenario's fleet\.systems"):
        injector.apply(ctx, injector.validate({"document": "POL-1", "replace": {"a": "b"}}))


def test_edit_document_recomputes_the_hash(tmp_path: Path) -> None:
    bot, _, _ = _bot(tmp_path)
    doc = bot.document("POL-IT-004")
    edited = edit_document(doc, {"35 days": "5 days"})
    assert edited.sha256 != doc.sha256
    assert edited.version == doc.version


def test_drafted_messages_say_what_is_in_place_and_whom_it_reached(sqlite_store: Store) -> None:
    clock = SimulatedClock()
    with sqlite_store.transaction() as s:
        incident = declare_incident(
            s,
            clock=clock,
            actor="a",
            system="support-bot",
            failure_mode="hallucination_cascade",
            summary="refund answers wrong",
            severity="sev2",
        )
        add_finding(
            s,
            clock=clock,
            incident_id=incident.id,
            actor="forensics",
            finding=FindingIn(
                title="Document POL-CS-001 changed and drives the ungrounded answers",
                kind=FindingKind.ROOT_CAUSE,
                recommendation="remove POL-CS-001 from retrieval",
                data={"affected_sessions": ["s1", "s2", "s3"]},
            ),
        )
        users = draft_communication(
            s, clock=clock, incident_id=incident.id, audience="customers", author="playbook"
        )
        board = draft_communication(
            s, clock=clock, incident_id=incident.id, audience="stakeholders", author="playbook"
        )
        with pytest.raises(InputError, match="unknown audience 'press'"):
            draft_communication(
                s, clock=clock, incident_id=incident.id, audience="press", author="playbook"
            )
    assert users["kind"] == "customer_notice_draft"
    assert "quoted a policy wrongly" in users["body"]
    assert "3 conversation(s) affected" in users["body"]
    assert board["kind"] == "stakeholder_update_draft"
    assert "Root cause: Document POL-CS-001 changed" in board["body"]
    assert "Recommended: remove POL-CS-001 from retrieval." in board["body"]
    assert "Containment: none yet." in board["body"]
    with sqlite_store.read() as s:
        saved = [c.kind for c in list_communications(s, incident_id=incident.id)]
    assert saved == ["customer_notice_draft", "stakeholder_update_draft"]


# ------------------------------------------------------------------------- the scenarios


@pytest.mark.slow
def test_chatbot_prompt_injection_isolates_the_bot_and_drafts_the_messages(
    tmp_path: Path,
) -> None:
    store = drill_store(tmp_path)
    card = run_drill(
        load_scenario("chatbot-prompt-injection"), store=store, options=DrillOptions(scale=0.4)
    )
    assert card.passed, card.reasons
    assert card.failure_mode_correct
    assert card.root_cause_correct
    assert card.false_alarms == 0
    assert card.chat_turns_sent > 200
    # The bot answered turns from its model between the article and the hand-off; none after.
    assert card.bad_predictions_served is not None
    assert 0 < card.bad_predictions_served < card.chat_turns_sent
    assert card.time_to_detect_s is not None
    assert card.time_to_contain_s is not None
    assert card.time_to_declare_s is not None
    assert 0 <= card.time_to_detect_s <= card.time_to_declare_s <= card.time_to_contain_s
    taken = {s.expected: s for s in card.steps}
    assert taken['fallback {"type": "human_handoff"}'].taken == "fallback"
    severities = {i.failure_mode: i.severity for i in card.incidents}
    assert severities["prompt_injection"] == "sev2"
    # The planted article makes the bot ask for card security codes (harmful, SEV2); its
    # answers cite an article that is no approved policy (a minor hallucination, SEV4).
    assert severities["harmful_output"] == "sev2"
    assert severities["hallucination_cascade"] == "sev4"
    assert {s.expected: s.taken for s in card.steps}[
        "hallucination_cascade incident at exactly sev4"
    ]
    with store.read() as s:
        incident = next(i for i in list_incidents(s) if i.failure_mode == "prompt_injection")
        route = get_route(s, system="support-bot")
        kinds = {c.kind for c in list_communications(s, incident_id=incident.id)}
        findings = list_findings(s, incident_id=incident.id)
    assert route.mode == "fallback"
    assert (route.fallback or {}).get("type") == "human_handoff"
    assert {"user_message_draft", "stakeholder_update_draft"} <= kinds
    channels = {f.title.split()[2] for f in findings if f.title.startswith("Injection through")}
    assert channels == {"user", "retrieved", "tool"}
    # The turns went through the gateway's chat endpoint into the event log; after the
    # hand-off the bot is not called and the turns are answered by the fallback.
    turns = read_events(store.settings.telemetry_dir, "llm_turn", system="support-bot")
    roles = set(turns.column("role").to_pylist())
    assert {"primary", "fallback"} <= roles
    store.close()


@pytest.mark.slow
def test_rag_hallucination_cascade_names_and_removes_the_corrupted_document(
    tmp_path: Path,
) -> None:
    store = drill_store(tmp_path)
    card = run_drill(
        load_scenario("rag-hallucination-cascade"), store=store, options=DrillOptions(scale=0.4)
    )
    assert card.passed, card.reasons
    assert card.failure_mode_correct
    assert card.root_cause_correct
    assert card.false_alarms == 0  # the approved policy update raised nothing
    assert [i.explained_by for i in card.incidents] == ["corrupted-refunds"]
    assert card.bad_predictions_served is not None
    assert 0 < card.bad_predictions_served < card.chat_turns_sent
    taken = {s.expected: s for s in card.steps}
    assert taken['remove_document {"document": "POL-CS-001"}'].taken == "remove_document"
    assert taken["disable_retrieval"].at_s is not None
    assert taken["forensics.rag"].at_s is not None
    assert taken["forensics.rag"].at_s <= taken["disable_retrieval"].at_s
    with store.read() as s:
        (incident,) = list_incidents(s)
        retrieval = get_retrieval(s, system="support-bot")
        kinds = {c.kind for c in list_communications(s, incident_id=incident.id)}
        findings = list_findings(s, incident_id=incident.id)
    assert not retrieval.enabled
    assert "POL-CS-001" in retrieval.removed_documents
    assert "customer_notice_draft" in kinds
    root = findings[0]
    assert root.kind.value == "root_cause"
    assert "POL-CS-001" in root.title
    cascade = next(f for f in findings if "sessions/h" in f.title)
    assert cascade.data["affected_sessions"]  # the sessions a customer notice goes to
    store.close()
