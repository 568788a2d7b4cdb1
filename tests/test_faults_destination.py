"""The lake is unavailable: Azurite stopped in the middle of a run, or the storage key rejected. Jobs fail in
one clear line, no cursor advances, a reader following the reading rule sees nothing half-loaded, and the
next run (Azurite back on the same port and data folder) loads every row exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conftest import Project
from dlt_ingest.workbook.template import DEMO_ROWS
from lake_backends import AzuriteLake
from reading_rule import completed_load_ids, lake_rows, orphan_files, read_completed
from services.dropping_api import DroppingApi
from services.stoppable_azurite import restart, stop

CUSTOMERS = next(r for r in DEMO_ROWS if r["table_name"] == "customers")
API_ROW = {"source_type": "api", "source_name": "shop", "table_name": "items", "api_endpoint": "items",
           "load_type": "INCREMENTAL", "watermark_column": "updated_at", "last_watermark": "2026-01-01",
           "cursor_param": "updated_since", "primary_key": "id", "data_selector": "data", "enabled": "Y",
           "paginator": '{"type": "page_number", "base_page": 1, "total_path": "total_pages"}'}
CANARY_KEY = "cmVqZWN0ZWQta2V5LWNhbmFyeS03ZDFl"  # base64, so the SDK sends it and the server rejects it


@pytest.fixture
def own_azurite() -> Iterator[Any]:
    """An Azurite of this test's own: stopping the session's one would break other tests."""
    from services.azurite import start_azurite

    server = start_azurite()
    yield server
    server.cleanup()


@pytest.fixture
def api() -> Iterator[DroppingApi]:
    server = DroppingApi(records=9, per_page=3).start()
    yield server
    server.stop()


def _configure_api(project: Project, api: DroppingApi) -> None:
    project.append_config(f'[sources.shop]\nbase_url = "{api.url}/api"\nmax_attempts = 1\n', "secrets.toml")


def _assert_exactly_once(lake: Any, api: DroppingApi) -> None:
    items = lake_rows(read_completed(lake, "shop", "items"), "id", "name")
    assert sorted(items) == sorted((r["id"], r["name"]) for r in api.records)
    customers = lake_rows(read_completed(lake, "demo", "customers"), "id")
    assert sorted(i for (i,) in customers) == list(range(1, 501))
    assert orphan_files(lake, "shop", "items") == orphan_files(lake, "demo", "customers") == []


@pytest.mark.slow
def test_lake_stopped_mid_run_fails_the_jobs_and_the_next_run_recovers_exactly_once(
        project: Project, own_azurite: Any, api: DroppingApi, monkeypatch: pytest.MonkeyPatch) -> None:
    # the storage SDK retries a refused connection after 15 s, 18 s and 24 s; keep its retries, not its waits
    from azure.storage.blob._shared import policies, policies_async

    for policy in (policies.ExponentialRetry, policies_async.ExponentialRetry):
        monkeypatch.setattr(policy, "get_backoff_time", lambda self, settings: 0.05)
    lake = AzuriteLake(project, own_azurite, "az")
    _configure_api(project, api)
    project.append_config("[ingest]\nretry_backoff_seconds = 0.05")
    project.write_workbook([API_ROW, CUSTOMERS])

    def outage() -> None:  # the lake goes away while the first job is extracting
        api.on_request = None
        stop(own_azurite)

    api.on_request = outage
    broken = project.ingest("run")
    assert broken.exit_code == 1, broken.output
    rows = {r["job_name"]: r for r in project.audit_rows()}
    assert {name: r["status"] for name, r in rows.items()} == {"shop.items": "FAILED", "demo.customers": "FAILED"}
    for row in rows.values():
        assert row["error_message"].startswith(("cannot write to the lake: ", "cannot read the stored state from "
                                                "the lake: ")), row["error_message"]
        assert "Connect call failed" in row["error_message"] and "\n" not in row["error_message"]
        assert row["watermark_end"] == ""
    assert "Traceback" not in broken.output

    restart(own_azurite)
    assert completed_load_ids(lake, "shop") == completed_load_ids(lake, "demo") == set()  # nothing half-visible
    recovered = project.ingest("run")
    assert recovered.exit_code == 0, recovered.output
    rows = {r["job_name"]: r for r in project.audit_rows()[2:]}
    assert {name: r["status"] for name, r in rows.items()} == {"shop.items": "SUCCESS", "demo.customers": "SUCCESS"}
    # the package the broken run extracted is completed first (its 9 rows and the cursor they carry), so the
    # new extraction finds nothing new
    assert rows["shop.items"]["rows_processed"] == "0"
    assert "left pending by an earlier run" in rows["shop.items"]["warnings"]
    assert rows["shop.items"]["watermark_end"].startswith("2026-01-09")
    _assert_exactly_once(lake, api)


def test_rejected_storage_key_changes_nothing_and_the_fixed_key_loads_only_what_is_new(
        project: Project, azurite: Any, api: DroppingApi) -> None:
    lake = AzuriteLake(project, azurite, "az")
    _configure_api(project, api)
    project.write_workbook([API_ROW, CUSTOMERS])
    assert project.ingest("run").exit_code == 0
    files_before = lake.files("shop", "items") + lake.files("demo", "customers")
    api.records.append({"id": 10, "name": "item 10", "updated_at": "2026-01-10T00:00:00Z"})

    secrets = project.path / ".dlt" / "secrets.toml"
    good_secrets = secrets.read_text(encoding="utf-8")
    secrets.write_text(good_secrets.replace(azurite.key, CANARY_KEY), encoding="utf-8")  # a rotated key
    project.append_config("")  # reload the providers
    rejected = project.ingest("run")
    assert rejected.exit_code == 2, rejected.output
    assert rejected.stderr.strip().startswith(
        f"Error: storage account '{azurite.account}', container '{lake.container}': the storage service rejected "
        f"the credentials;"), rejected.stderr
    assert CANARY_KEY not in rejected.output + project.all_output_text()
    assert lake.files("shop", "items") + lake.files("demo", "customers") == files_before
    assert len(project.audit_rows()) == 2  # refused at start: no job ran

    secrets.write_text(good_secrets, encoding="utf-8")
    project.append_config("")  # reload the providers
    fixed = project.ingest("run")
    assert fixed.exit_code == 0, fixed.output
    rows = {r["job_name"]: r for r in project.audit_rows()[2:]}
    assert rows["shop.items"]["rows_processed"] == "1"  # the cursor stayed at 2026-01-09 through the failure
    assert rows["shop.items"]["watermark_start"].startswith("2026-01-09")
    items = lake_rows(read_completed(lake, "shop", "items"), "id")
    assert sorted(i for (i,) in items) == list(range(1, 11))
