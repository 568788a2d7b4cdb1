"""The protocol every source module follows, and the registry that maps `source_type` to a module."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dlt.common.configuration.specs import BaseConfiguration
from dlt.extract import DltResource, DltSource

from dlt_ingest.config.model import Job


@dataclass
class PreparedSource:
    """What a source module hands the orchestrator: the dlt object to run and what it noticed."""

    data: DltResource | DltSource
    warnings: list[str] = field(default_factory=list)
    host: str = ""


class SourceModule(ABC):
    """One kind of source. Modules import their drivers lazily so a laptop needs only the extras it uses."""

    type_name: ClassVar[str]
    family: ClassVar[str] = "database"
    credentials_spec: ClassVar[type[BaseConfiguration]]

    def check_job(self, job: Job) -> list[tuple[str, str]]:
        """Extra rules for a row of this type: (column, message with the fix) pairs."""
        return []

    @abstractmethod
    def prepare(self, job: Job, credentials: Any) -> AbstractContextManager[PreparedSource]:
        """Build the dlt resource for `job`; the context closes connections when the run is over."""

    def describe_target(self, credentials: Any) -> str:
        """Where the source lives, safe to print (host/database, never a password)."""
        return ""

    def test_connection(self, credentials: Any) -> None:  # pragma: no cover - per module
        raise NotImplementedError


class SourceRegistry:
    def __init__(self) -> None:
        self._modules: dict[str, SourceModule] = {}
        self._declared: dict[str, str] = {}  # type name -> module that registers it when imported

    def register(self, module: SourceModule) -> SourceModule:
        self._modules[module.type_name] = module
        return module

    def declare(self, type_name: str, python_module: str) -> None:
        """A type whose module is imported (and registers itself) on first use, not at start-up.

        Database modules pull in SQLAlchemy dialects and drivers; a run imports only the types it uses.
        """
        self._declared[type_name] = python_module

    def known_types(self) -> list[str]:
        return sorted({*self._modules, *self._declared})

    def get(self, type_name: str) -> SourceModule:
        if type_name not in self._modules and type_name in self._declared:
            importlib.import_module(self._declared[type_name])
        try:
            return self._modules[type_name]
        except KeyError:
            from dlt_ingest.errors import ConfigError

            raise ConfigError(
                f"unknown source_type '{type_name}': use one of {', '.join(self.known_types())}"
            ) from None

    def __iter__(self) -> Iterator[SourceModule]:
        return iter([self.get(name) for name in self.known_types()])


REGISTRY = SourceRegistry()


def register(module_class: type[SourceModule]) -> type[SourceModule]:
    """Class decorator: `@register class PostgresSource(DatabaseSource): type_name = "postgresql"`."""
    REGISTRY.register(module_class())
    return module_class
