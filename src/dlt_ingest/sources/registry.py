"""The registry that maps a workbook's `source_type` to its source module.

Each built-in type is one line below: the module is imported on first use, so a run imports only the
drivers of the types it uses. The registry is also the `SourceRules` workbook validation asks.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from dlt_ingest.errors import ConfigError
from dlt_ingest.sources.base import SourceModule
from dlt_ingest.workbook.model import Job

BUILT_IN_SOURCES: dict[str, str] = {
    "api": "dlt_ingest.sources.api.source:ApiSource",
    "azure_sql": "dlt_ingest.sources.sql.azure_sql:AzureSqlSource",
    "mssql": "dlt_ingest.sources.sql.mssql:MssqlSource",
    "mysql": "dlt_ingest.sources.sql.mysql:MysqlSource",
    "oracle": "dlt_ingest.sources.sql.oracle:OracleSource",
    "postgresql": "dlt_ingest.sources.sql.postgresql:PostgresSource",
    "sqlite": "dlt_ingest.sources.sql.sqlite:SqliteSource",
}


class SourceRegistry:
    def __init__(self, declared: dict[str, str]) -> None:
        self._declared = dict(declared)  # type name -> "module:Class"
        self._modules: dict[str, SourceModule[Any]] = {}

    def known_types(self) -> list[str]:
        return sorted(self._declared)

    def get(self, type_name: str) -> SourceModule[Any]:
        module = self._modules.get(type_name)
        if module is not None:
            return module
        if type_name not in self._declared:
            raise ConfigError(f"unknown source_type '{type_name}': use one of {', '.join(self.known_types())}")
        python_module, class_name = self._declared[type_name].split(":")
        module = getattr(importlib.import_module(python_module), class_name)()
        self._modules[type_name] = module
        return module

    def check_job(self, job: Job) -> list[tuple[str, str]]:
        module = self.get(job.source_type)
        problems = module.check_job(job)
        if job.detect_deletes and not module.detects_deletes:
            problems.append(("detect_deletes", f"is Y but {job.source_type} sources cannot detect deletes (database "
                                               f"sources can): set detect_deletes to N"))
        return problems

    def __iter__(self) -> Iterator[SourceModule[Any]]:
        return iter([self.get(name) for name in self.known_types()])


REGISTRY = SourceRegistry(BUILT_IN_SOURCES)
