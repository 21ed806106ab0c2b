"""The ATLAS loader on the real ATLAS data file, and the taxonomy's IDs checked against it."""

from __future__ import annotations

from pathlib import Path

import pytest

from airsoc.errors import DataFileError, NotFoundError
from airsoc.incidents.atlas import load_atlas
from airsoc.incidents.taxonomy import ATLAS_VERSION, FAILURE_MODES

ATLAS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "atlas" / "ATLAS.yaml"


@pytest.fixture(scope="module")
def atlas() -> object:
    return load_atlas(ATLAS)


def test_every_taxonomy_technique_exists_with_its_tactics(atlas: object) -> None:
    from airsoc.incidents.atlas import AtlasData

    assert isinstance(atlas, AtlasData)
    assert atlas.version == ATLAS_VERSION
    for mode in FAILURE_MODES.values():
        for tech in mode.atlas:
            described = atlas.describe(tech.id)
            assert tech.name.endswith(described["name"]), (tech.id, described["name"])
            assert sorted(tech.tactics) == sorted(t["name"] for t in described["tactics"]), tech.id


def test_sub_technique_inherits_parent_details(atlas: object) -> None:
    from airsoc.incidents.atlas import AtlasData

    assert isinstance(atlas, AtlasData)
    direct = atlas.describe("AML.T0051.000")
    assert direct["parent"] == "AML.T0051"
    assert direct["mitigations"]
    assert direct["case_studies"]
    with pytest.raises(NotFoundError, match=r"AML\.T9999"):
        atlas.describe("AML.T9999")


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="not found"):
        load_atlas(tmp_path / "none.yaml")
    junk = tmp_path / "junk.yaml"
    junk.write_text("id: x\nmatrices: []\n")
    with pytest.raises(DataFileError, match="is not an ATLAS data file"):
        load_atlas(junk)
