"""The OWASP lists of the taxonomy carry their published versions."""

from __future__ import annotations

from airsoc.incidents.taxonomy import (
    FAILURE_MODES,
    OWASP_AGENTIC_TOP10,
    OWASP_AGENTIC_VERSION,
    failure_mode,
)


def test_the_agentic_list_is_the_published_one_in_order() -> None:
    assert [e.id for e in OWASP_AGENTIC_TOP10] == [f"ASI{i:02d}" for i in range(1, 11)]
    assert {(e.list, e.version) for e in OWASP_AGENTIC_TOP10} == {
        ("OWASP Agentic Top 10", OWASP_AGENTIC_VERSION)
    }
    assert OWASP_AGENTIC_TOP10[0].name == "Agent Goal Hijack"
    assert OWASP_AGENTIC_TOP10[9].name == "Rogue Agents"


def test_modes_cite_agentic_entries_beside_the_llm_and_ml_lists() -> None:
    injection = {o.id: o for o in failure_mode("prompt_injection").owasp}
    assert injection["LLM01"].version == "2025"
    assert injection["ASI01"].version == "2026"
    assert "ASI04" in {o.id for o in failure_mode("supply_chain").owasp}
    cited = {o for m in FAILURE_MODES.values() for o in m.owasp if o.id.startswith("ASI")}
    assert cited <= set(OWASP_AGENTIC_TOP10)  # the same entries, with the same names
