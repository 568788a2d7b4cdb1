"""Unity Catalog registration of a run's jobs: create or update, never drop, only what dlt-ingest created.

For each job that succeeded, after the run: the source's schema and `_dlt_loads` table, the job's history
table (columns added when the files gained some), its view (redefined with `ALTER VIEW`, which keeps its
grants) and its `_current` Delta table. An object that exists without our `dlt_ingest.created_by`
property is someone else's and is left alone (a note says so). Every statement is logged, redacted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from dlt_ingest.errors import CatalogError
from dlt_ingest.records import catalog_sql as sql
from dlt_ingest.records.catalog_sql import ObjectName
from dlt_ingest.redaction import redact
from dlt_ingest.results import LakeTable
from dlt_ingest.settings import UnityCatalogSettings
from dlt_ingest.workbook.model import CURRENT_SUFFIX, Job, lake_name

log = logging.getLogger("dlt_ingest.catalog")

Row = tuple[str | None, ...]
HISTORY_SUFFIX = "__history"
LOADS_TABLE = "_dlt_loads"


class CatalogUnavailable(CatalogError):
    """The warehouse or session itself failed (unreachable, missing, too slow): no later job would fare better."""


class Statements(Protocol):
    """Where the SQL runs: a SQL warehouse through the SDK, or the cluster's Spark session."""

    def run(self, statement: str) -> list[Row]:
        """Execute one statement; its result rows as text. Raises `CatalogError` when it failed, and
        `CatalogUnavailable` when the warehouse or session could not run it at all."""
        ...


def is_missing(exc: CatalogError) -> bool:
    return "TABLE_OR_VIEW_NOT_FOUND" in str(exc)


@dataclass(frozen=True)
class Existing:
    """What sits at a name: nothing, an object of ours (its properties), or someone else's object."""

    properties: dict[str, str] | None

    @property
    def missing(self) -> bool:
        return self.properties is None

    def ours(self, owner: str, kind: str) -> bool:
        props = self.properties or {}
        return (props.get(sql.MARKER_KEY) == sql.MARKER_VALUE and props.get(sql.JOB_KEY) == owner
                and props.get(sql.KIND_KEY) == kind)


@dataclass
class Registered:
    """What one job's registration did: the objects created or updated, and what it left alone."""

    job: Job
    objects: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class CatalogRegistrar:
    settings: UnityCatalogSettings
    statements: Statements
    root: str  # the lake's root URL as the catalog reads it
    _schemas: set[str] = field(default_factory=set)
    _loads: dict[str, ObjectName] = field(default_factory=dict)

    def _run(self, statement: str) -> list[Row]:
        log.info("Unity Catalog: %s", redact(statement))
        return self.statements.run(statement)

    def _name(self, job: Job, name: str) -> ObjectName:
        schema = self.settings.schema_for(job.dataset_name)
        prefix = "" if self.settings.schema_per_source else f"{job.dataset_name}__"
        return ObjectName(self.settings.catalog, schema, prefix + name)

    def _location(self, folder: str) -> str:
        return f"{self.root.rstrip('/')}/{folder}"

    def _existing(self, name: ObjectName) -> Existing:
        try:
            rows = self._run(sql.show_properties(name))
        except CatalogError as exc:
            if is_missing(exc):
                return Existing(None)
            raise
        return Existing({str(row[0]): str(row[1]) for row in rows if len(row) >= 2})

    def _columns(self, name: ObjectName) -> list[tuple[str, str]]:
        """`DESCRIBE TABLE`: (column, type) up to the first section header or blank line."""
        columns = []
        for row in self._run(sql.describe_columns(name)):
            column = (row[0] or "").strip()
            if not column or column.startswith("#"):
                break
            columns.append((column, str(row[1] or "")))
        return columns

    def _ensure_schema(self, name: ObjectName) -> None:
        if name.schema not in self._schemas:
            self._run(sql.create_schema(name.catalog, name.schema))
            self._schemas.add(name.schema)

    def _ensure_loads(self, job: Job, lake: LakeTable) -> ObjectName:
        if job.dataset_name in self._loads:
            return self._loads[job.dataset_name]
        name = self._name(job, LOADS_TABLE)
        existing = self._existing(name)
        if existing.missing:
            self._run(sql.create_loads_table(name, self._location(lake.loads_folder), job.source_name))
        elif existing.ours(job.source_name, "loads"):
            self._run(sql.refresh(name))
        else:
            raise CatalogError(f"{name} exists and was not created by dlt-ingest: left alone, so the views of "
                               f"source {job.source_name} cannot be registered; rename or drop it")
        self._loads[job.dataset_name] = name
        return name

    def register(self, job: Job, describe: Callable[[str | None], LakeTable]) -> Registered:
        """Create or update the job's objects; `describe(after_load)` reads the columns of the lake's files
        of loads after the newest one already registered (every file the first time). Raises `CatalogError`."""
        done = Registered(job)
        history = self._name(job, job.lake_table + HISTORY_SUFFIX)
        self._ensure_schema(history)
        existing = self._existing(history)
        if not existing.missing and not existing.ours(job.name, "history"):
            raise CatalogError(f"{history} exists and was not created by dlt-ingest: left alone; rename or drop "
                               f"it to register {job.name}")
        registered_through = (existing.properties or {}).get(sql.REGISTERED_LOAD_KEY) or None
        lake = describe(registered_through)
        if existing.missing and lake.schema is None:
            done.warnings.append(f"{job.name}: no completed load in the lake yet, nothing registered")
            return done
        wanted = sql.column_definitions(lake.schema) if lake.schema is not None else []
        loads = self._ensure_loads(job, lake)
        if existing.missing:
            self._run(sql.create_history_table(history, self._location(lake.history_folder), wanted, job,
                                               lake.newest_load))
            columns = [name for name, _ in wanted]
        else:
            columns = self._update_history(history, wanted, done)
            if lake.newest_load and lake.newest_load != registered_through:
                self._run(sql.set_property(history, sql.REGISTERED_LOAD_KEY, lake.newest_load))
        done.objects.append(str(history))
        self._register_view(job, history, loads, columns, done)
        if lake.current_folder:
            self._register_current(job, self._location(lake.current_folder), done)
        return done

    def _update_history(self, history: ObjectName, wanted: list[tuple[str, str]], done: Registered) -> list[str]:
        """Columns the files gained are added (a catalog table's schema is fixed until altered)."""
        current = self._columns(history)
        known = {name.lower(): kind for name, kind in current}
        added = [(name, kind) for name, kind in wanted if name.lower() not in known]
        if added:
            self._run(sql.add_columns(history, added))
        self._run(sql.refresh(history))
        for name, kind in wanted:
            if name.lower() in known and not sql.same_type(kind, known[name.lower()]):
                done.warnings.append(f"{history}: column {name} is {kind} in the newest files but "
                                     f"{known[name.lower()]} in the table; left as it is")
        return [name for name, _ in current] + [name for name, _ in added]

    def _register_view(self, job: Job, history: ObjectName, loads: ObjectName, columns: list[str],
                       done: Registered) -> None:
        view = self._name(job, job.lake_table)
        keys, watermark = [], None
        if job.is_incremental:  # a FULL snapshot needs neither: it is whole
            keys = [self._column(columns, lake_name(k), job, "primary_key") for k in job.primary_key]
            watermark = sql.find_column(columns, lake_name(job.watermark_column)) if job.watermark_column else None
        query = sql.live_rows_query(job, history, loads, columns, keys, watermark)
        existing = self._existing(view)
        if existing.missing:
            self._run(sql.create_view(view, query, job, sql.view_comment(job, keys)))
        elif existing.ours(job.name, "view"):
            self._run(sql.alter_view(view, query))
        else:
            done.warnings.append(f"{view} exists and was not created by dlt-ingest: left alone (the live rows "
                                 f"of {job.name} are not registered)")
            return
        done.objects.append(str(view))

    @staticmethod
    def _column(columns: list[str], wanted: str, job: Job, what: str) -> str:
        found = sql.find_column(columns, wanted)
        if found is None:
            raise CatalogError(f"{job.name}: {what} column {wanted} is not in the lake table")
        return found

    def _register_current(self, job: Job, location: str, done: Registered) -> None:
        current = self._name(job, job.lake_table + CURRENT_SUFFIX)
        try:
            details = self._location_of(current)
        except CatalogError as exc:
            if not is_missing(exc):
                raise
            self._run(sql.create_current_table(current, location))
            done.objects.append(str(current))
            return
        if details.rstrip("/") != location.rstrip("/"):
            done.warnings.append(f"{current} exists at another location ({details or 'none'}): left alone")
            return
        self._run(sql.sync_current_table(current))
        done.objects.append(str(current))

    def _location_of(self, name: ObjectName) -> str:
        """The `Location` row of `DESCRIBE TABLE EXTENDED` (a Delta table cannot carry our property)."""
        rows = self._run(sql.describe_columns(name, extended=True))
        return next((str(row[1] or "") for row in rows if (row[0] or "").strip() == "Location"), "")
