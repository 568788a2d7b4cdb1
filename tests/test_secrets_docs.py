"""docs/secrets.md names every setting of every source type in its vault form, and the lake's names."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlt_ingest.secrets.check import AZURE_CREDENTIAL_FIELDS
from dlt_ingest.secrets.names import guide_env_name, vault_name
from dlt_ingest.sources import REGISTRY

DOC = (Path(__file__).resolve().parent.parent / "docs" / "secrets.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("source_type", REGISTRY.known_types())
def test_every_setting_of_a_source_type_is_documented(source_type: str) -> None:
    section = DOC.split(f"### `{source_type}`", 1)[1].split("###", 1)[0]
    for key in REGISTRY.get(source_type).credentials_spec.get_resolvable_fields():
        assert f"| `{key}` |" in section, f"docs/secrets.md: {source_type} lacks `{key}`"


@pytest.mark.parametrize("key", AZURE_CREDENTIAL_FIELDS)
def test_every_lake_credential_is_documented_with_its_store_names(key: str) -> None:
    sections = ("destination", "filesystem", "credentials")
    assert f"`{vault_name(key, sections)}`" in DOC and f"`{guide_env_name(key, sections)}`" in DOC
