"""An API response is bounded in time, size and nesting, whatever the server does: the job fails naming the
setting that bounds it (or the fix), within that bound, and the other jobs of the run load."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from conftest import Project
from dlt_ingest.errors import ApiUnreachable
from dlt_ingest.sources.api.http import FailureTranslator, RetrySettings, api_session
from dlt_ingest.sources.api.origin import OriginGuard
from services.slow_api import SlowApi

BOUNDS = "max_attempts = 2\nbackoff_factor = 0.01\ntimeout = 5\nresponse_deadline = 1\nmax_response_mb = 1\n"


@pytest.fixture
def slow_api() -> Iterator[SlowApi]:
    server = SlowApi().start()
    yield server
    server.stop()


def api_job(table: str, endpoint: str) -> dict[str, str]:
    return {"source_type": "api", "source_name": "slow", "table_name": table, "api_endpoint": endpoint,
            "paginator": "single_page", "load_type": "FULL", "enabled": "Y"}


LATE = "did not send a complete response within response_deadline = 1 s"
LARGE = "is larger than max_response_mb = 1 MiB"


@pytest.mark.parametrize(("endpoint", "expected", "fix", "attempts"), [
    pytest.param("drip-body", LATE, "[sources.slow]", 2, id="drip-body"),
    pytest.param("drip-headers", LATE, "[sources.slow]", 2, id="drip-headers"),
    pytest.param("endless", LARGE, "[sources.slow]", 1, id="endless-body"),
    pytest.param("gzip-bomb", LARGE, "[sources.slow]", 1, id="gzip-bomb"),
    pytest.param("deep", "returned JSON nested deeper than Python can read", "check api_endpoint", 1,
                 id="json-nested-200000-deep"),
])
def test_a_response_past_its_bound_fails_its_job_in_bounded_time_and_the_others_load(
        project: Project, slow_api: SlowApi, endpoint: str, expected: str, fix: str, attempts: int) -> None:
    project.append_config(f'[sources.slow]\nbase_url = "{slow_api.url}"\n{BOUNDS}', file="secrets.toml")
    project.write_workbook([api_job("hostile", endpoint), api_job("items", "good")])
    started = time.monotonic()
    result = project.ingest("run")
    assert time.monotonic() - started < 30
    assert result.exit_code == 1, result.output
    rows = {row["job_name"].split(".")[-1]: row for row in project.audit_rows()}
    assert rows["items"]["status"] == "SUCCESS" and rows["items"]["rows_processed"] == "2"
    assert rows["hostile"]["status"] == "FAILED"
    assert expected in rows["hostile"]["error_message"]
    assert fix in rows["hostile"]["error_message"]
    assert slow_api.requests[f"/api/{endpoint}"] == attempts  # a too-large body is not asked for again
    assert "Traceback" not in result.output


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "http-proxy"])
def test_the_session_bounds_each_attempt_not_each_read(slow_api: SlowApi, through_proxy: bool) -> None:
    """The core directly: each byte arrives well inside `timeout`, the response never finishes (also through
    an HTTP proxy: the slow server itself answers the proxy's absolute-form requests)."""
    settings = RetrySettings(max_attempts=1, backoff_factor=0, max_retry_delay=0, timeout=5, response_deadline=0.5)
    translator = FailureTranslator("job", "slow", slow_api.url, settings)
    session = api_session(translator, OriginGuard(slow_api.url, "", "[sources.slow]"))
    session.trust_env = False  # no proxy or NO_PROXY from the environment
    proxies = {"http": slow_api.url.removesuffix("/api")} if through_proxy else {}
    started = time.monotonic()
    with pytest.raises(ApiUnreachable, match=re.escape("response_deadline = 0.5 s")):
        session.get(f"{slow_api.url}/drip-body", proxies=proxies)
    assert time.monotonic() - started < 3
    assert session.get(f"{slow_api.url}/good", proxies=proxies).json()[0]["id"] == 1  # the pool stays usable
    assert slow_api.requests.total() == 2


@pytest.mark.parametrize("setting", ["response_deadline = 0", "response_deadline = \"soon\"", "max_response_mb = -1"])
def test_a_bound_that_is_no_positive_number_fails_before_any_request(
        project: Project, slow_api: SlowApi, setting: str) -> None:
    project.append_config(f'[sources.slow]\nbase_url = "{slow_api.url}"\n{setting}\n', file="secrets.toml")
    project.write_workbook([api_job("items", "good")])
    result = project.ingest("run")
    assert result.exit_code == 1, result.output
    error = project.audit_rows()[0]["error_message"]
    assert setting.split(" ")[0] in error and "[sources.slow]" in error
    assert sum(slow_api.requests.values()) == 0
