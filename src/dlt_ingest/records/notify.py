"""Run notifications through Apprise: e-mail, Microsoft Teams, Slack and anything else Apprise speaks.

Configured under `[ingest.notifications]` in `.dlt/config.toml` or (better, the URLs hold tokens)
`.dlt/secrets.toml` or any secret provider:

    [ingest.notifications]
    urls = ["mailtos://user:pass@smtp.example.com?to=data-team@example.com", "msteams://..."]
    on = "failure"          # or "always": a summary after every run (a daily run = a daily summary)

A notification that cannot be sent is a warning in the log and the summary; it never fails the run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from dlt_ingest.errors import ConfigError, describe
from dlt_ingest.redaction import redact, register_secret
from dlt_ingest.results import RunReport
from dlt_ingest.secrets.chain import lookup_setting

log = logging.getLogger("dlt_ingest.records.notify")

SECTION = ("ingest", "notifications")
TRIGGERS = ("failure", "always")
_TOKEN_LENGTH = 12  # path segments this long in a webhook URL are tokens (Teams, Slack, Discord ...)


@dataclass(frozen=True)
class NotificationSettings:
    urls: tuple[str, ...] = ()
    on: str = "failure"

    @classmethod
    def load(cls) -> NotificationSettings:
        raw, _ = lookup_setting("urls", SECTION, list)
        urls = _as_list(raw)
        for url in urls:
            register_url(url)
        on, _ = lookup_setting("on", SECTION, str)
        trigger = str(on or "failure").strip().lower()
        if trigger not in TRIGGERS:
            raise ConfigError(
                f"[ingest.notifications] on = '{on}' is not one of {', '.join(TRIGGERS)}: fix it in .dlt/config.toml"
            )
        return cls(tuple(urls), trigger)


def _as_list(raw: Any) -> list[str]:
    """A TOML list, or a JSON list / comma-separated text from an environment variable or a vault."""
    if raw is None:
        return []
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except ValueError:
                raise ConfigError("[ingest.notifications] urls is not a valid JSON list of Apprise URLs") from None
        else:
            raw = text.replace("\n", ",").split(",")
    return [str(url).strip() for url in raw if str(url).strip()]


def register_url(url: str) -> None:
    """Mask the whole URL, its password and any token-like path segment wherever text leaves the process."""
    register_secret(url)
    parts = urlsplit(url)
    if parts.password:
        register_secret(parts.password)
        register_secret(unquote(parts.password))
    for segment in (parts.netloc.rsplit("@", 1)[0].split(":") if "@" in parts.netloc else []):
        if len(segment) >= _TOKEN_LENGTH:
            register_secret(segment)
    for segment in parts.path.split("/"):
        if len(segment) >= _TOKEN_LENGTH:
            register_secret(segment)
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if value and any(word in key.lower() for word in ("pass", "token", "key", "secret", "webhook")):
            register_secret(unquote(value))


def should_notify(report: RunReport, trigger: str) -> bool:
    return trigger == "always" or bool(report.failed) or any(r.reconciliation == "MISMATCH" for r in report.results)


def compose(report: RunReport) -> tuple[str, str]:
    """Title and plain-text body: failed jobs with reasons, mismatches, schema changes, where to look."""
    failed, total = len(report.failed), len(report.results)
    state = f"{failed} of {total} job(s) FAILED" if failed else f"all {total} job(s) succeeded"
    title = f"dlt-ingest run {report.run_id}: {state}"
    lines = [
        f"Run {report.run_id} started {report.started_at:%Y-%m-%d %H:%M:%S}: {len(report.succeeded)} succeeded, "
        f"{failed} failed, {report.total_rows:,} rows in {report.duration_seconds:.1f}s.",
    ]
    if report.failed:
        lines += ["", "Failed jobs:"]
        lines += [f"- {r.job.name}: {r.status.value}: {r.error}" for r in report.failed]
    mismatched = [r for r in report.results if r.reconciliation == "MISMATCH" and r.ok]
    if mismatched:
        lines += ["", "Row count mismatches (warnings):"]
        lines += [f"- {r.job.name}: source {r.source_count:,}, lake {r.lake_count:,}" for r in mismatched]
    changed = [r for r in report.results if r.schema_changed]
    if changed:
        lines += ["", "Schema changes:"]
        lines += [f"- {r.job.name}: {r.describe_schema_changes()}" for r in changed]
    errors_dir = Path(report.log_file).parent / "errors" if report.log_file else None
    lines += ["", "Where to look:", f"- run log: {report.log_file}"]
    if errors_dir is not None:
        lines.append(f"- error logs: {errors_dir}/")
    lines.append(f"- audit: {report.audit_file}")
    if report.report_file:
        lines.append(f"- report: {report.report_file}")
    return redact(title), redact("\n".join(lines))


def send_run_notification(report: RunReport, settings: NotificationSettings | None = None) -> str | None:
    """Send the run's message to every configured URL; returns a warning line when something failed."""
    try:
        settings = settings or NotificationSettings.load()
        if not settings.urls or not should_notify(report, settings.on):
            return None
        try:
            import apprise
        except ImportError:
            raise ConfigError("[ingest.notifications] needs Apprise: pip install 'dlt-ingest[notify]'") from None

        title, body = compose(report)
        sender = apprise.Apprise()
        bad = [number for number, url in enumerate(settings.urls, start=1) if not sender.add(url)]
        if bad:
            log.warning("notification URL(s) #%s under [ingest.notifications] urls are not valid Apprise URLs",
                        ", #".join(map(str, bad)))
        sent = len(sender) > 0 and sender.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
        if bad or not sent:
            return (f"notification not delivered to every target ({len(settings.urls) - len(bad)} valid URL(s)); "
                    f"see the run log")
        log.info("Notification sent to %d target(s)", len(sender))
        return f"notification sent to {len(sender)} target(s)"
    except Exception as exc:  # a notification never fails the run
        reason = describe(exc)
        log.warning("notification failed: %s", reason)
        return f"notification failed: {reason}"
