"""The taxonomy endpoints: failure modes with ATLAS/OWASP IDs, and the lifecycle as data."""

from __future__ import annotations

from tests.server.conftest import Api


def test_failure_modes_carry_their_mappings(api: Api) -> None:
    modes = api.client.get("/api/v1/taxonomy/failure-modes", headers=api.auth("vic")).json()
    assert len(modes) == 14
    poisoning = api.client.get(
        "/api/v1/taxonomy/failure-modes/data_poisoning", headers=api.auth("vic")
    ).json()
    assert poisoning["atlas"][0]["id"] == "AML.T0020"
    assert poisoning["atlas_version"] == "5.6.0"
    assert {o["version"] for o in poisoning["owasp"]} == {"2023", "2025"}
    r = api.client.get("/api/v1/taxonomy/failure-modes/drift", headers=api.auth("vic"))
    assert r.status_code == 404
    assert "known: adversarial_evasion" in r.json()["message"]


def test_the_lifecycle_is_served_as_data(api: Api) -> None:
    life = api.client.get("/api/v1/taxonomy/lifecycle", headers=api.auth("vic")).json()
    assert life["phases"][0] == "detected"
    assert {"source": "detected", "to": "triaged"}.items() <= life["transitions"][0].items()
    assert life["severities"] == ["sev1", "sev2", "sev3", "sev4", "sev5"]
