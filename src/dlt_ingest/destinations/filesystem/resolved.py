"""dlt's filesystem destination that asks the config providers once per pipeline, not ~20 times per job.

dlt resolves the destination's configuration from scratch on every `capabilities()` and `client()`
call (about 20 of each per job, each walking every provider and section): most of the fixed CPU cost
of a small job. The values cannot change during a run, so the first resolution for a pipeline is
kept; later calls hand dlt the same values as explicit ones, and dlt still builds and validates each
configuration itself (same spec, same `on_resolved` checks), only without the provider lookups.
"""

from __future__ import annotations

import threading
from typing import Any

from dlt.common.configuration.container import Container
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.configuration.resolve import resolve_configuration
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.configuration.specs.base_configuration import is_hint_not_resolvable
from dlt.common.configuration.specs.config_section_context import ConfigSectionContext
from dlt.common.destination.capabilities import DestinationCapabilitiesContext
from dlt.common.destination.reference import DestinationReference
from dlt.common.normalizers.naming import NamingConvention
from dlt.destinations import filesystem
from dlt.destinations.impl.filesystem.configuration import FilesystemDestinationClientConfiguration
from dlt.destinations.impl.filesystem.filesystem import FilesystemClient

from dlt_ingest.destinations.filesystem.atomic import AtomicFilesystemClient
from dlt_ingest.destinations.filesystem.listing import OwnFilesListing

_FILESYSTEM_TYPE = DestinationReference.normalize_type(f"{filesystem.__module__}.{filesystem.__qualname__}")


def _forget_frames(config: BaseConfiguration) -> None:
    """Drop the traceback of the exception dlt keeps on a partial configuration (the fields it left missing).

    Kept for the run, the traceback would keep every frame of the job that first resolved it alive, and with
    them its pipeline, schema, load packages and data: about 280 KB per job, a heap that full garbage
    collections walk again and again (a fifth of the run time at 300 jobs).
    """
    missing = getattr(config, "__exception__", None)
    seen: set[int] = set()
    while isinstance(missing, BaseException) and id(missing) not in seen:
        seen.add(id(missing))
        missing.__traceback__ = None
        missing = missing.__context__ or missing.__cause__


class LakeClient(AtomicFilesystemClient, OwnFilesListing):
    """dlt's filesystem client: a local lake's files written atomically, a pipeline's dlt files found by name."""


class ResolvedOnceFilesystem(filesystem):
    """The filesystem destination; its provider-resolved configuration is cached per pipeline name.

    The pipeline name is the key because dlt also looks up `<pipeline_name>.destination.filesystem.*`.
    When the configuration cannot be resolved on its own (a missing credential), nothing is cached and
    dlt's own path runs, so its error message is unchanged.
    """

    __orig_base__ = filesystem  # dlt reads which arguments were given from this class's __init__

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._resolved: dict[str | None, FilesystemDestinationClientConfiguration] = {}
        self._lock = threading.Lock()

    @property
    def client_class(self) -> type[FilesystemClient]:
        return LakeClient

    @property
    def destination_type(self) -> str:
        """dlt's own type name: it names the config sections and is stored in the pipeline state."""
        return _FILESYSTEM_TYPE

    def _base_configuration(self) -> FilesystemDestinationClientConfiguration | None:
        """What the providers and the explicit arguments say, resolved once for the active pipeline.

        Resolved partially: the fields the caller binds (dataset_name, local_dir) are missing here.
        """
        pipeline_name = Container()[ConfigSectionContext].pipeline_name
        with self._lock:
            base = self._resolved.get(pipeline_name)
            if base is None:
                try:
                    base = super().configuration(self.spec(), accept_partial=True)
                except Exception:
                    return None  # e.g. an invalid value: dlt's own path raises it where it always did
                _forget_frames(base)
                self._resolved[pipeline_name] = base
            return base

    def capabilities(self, config: FilesystemDestinationClientConfiguration | None = None,
                     naming: NamingConvention | None = None) -> DestinationCapabilitiesContext:
        """dlt's capabilities; without a config, from the one resolved for the pipeline (the filesystem's
        capabilities read only its protocol) instead of a partial resolution on each of ~20 calls a job."""
        return super().capabilities(config if config is not None else self._base_configuration(), naming)

    def configuration(self, initial_config: FilesystemDestinationClientConfiguration,
                      accept_partial: bool = False) -> FilesystemDestinationClientConfiguration:
        base = self._base_configuration()
        config = initial_config or self.spec()
        if base is None:
            return super().configuration(config, accept_partial=accept_partial)
        defaults = self.spec()
        explicit: dict[str, Any] = {}
        for name, hint in config.get_resolvable_fields().items():
            if is_hint_not_resolvable(hint):
                continue  # never read from providers; dlt keeps the caller's value
            value = getattr(base, name, None)
            if value == getattr(defaults, name, None):
                value = getattr(config, name, None)  # nothing configured it: the caller's value stands
            elif name == "bucket_url":
                value = getattr(base, "_orig_bucket_url", value)  # dlt normalizes it again
            explicit[name] = value.copy() if isinstance(value, BaseConfiguration) else value
        try:  # every field is explicit, so dlt consults no provider (it would for an absent one)
            return resolve_configuration(config, sections=("destination", self.destination_name),
                                         explicit_value=explicit, accept_partial=accept_partial)
        except ConfigurationException:
            # something is missing or invalid: dlt's own resolution, for its own message and lookup traces
            return super().configuration(config, accept_partial=accept_partial)
