"""The names a setting has in each store: dlt's sections, vault keys and the guide's `DLT_` variables.

    dlt / secrets.toml                              vault (Databricks, Key Vault)   guide environment
    sources.<source>.<key>                          <source>-<key>                  DLT_<SOURCE>_<KEY>
    destination.filesystem.<key>                    adls-<key>                      DLT_ADLS_<KEY>
    destination.filesystem.credentials.azure_<key>  adls-<key>                      DLT_ADLS_<KEY>

Vault names turn `_` into `-` because Key Vault names allow only letters, digits and dashes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

DESTINATION_ALIAS = "adls"
SECRET_FIELD_MARKERS = ("password", "secret", "token", "key", "sas", "connection_string")
_DESTINATION = ("destination", "filesystem")
_CREDENTIALS = ("destination", "filesystem", "credentials")


def is_secret_field(name: str) -> bool:
    """Whether a setting's name says it holds a secret (its value is then masked wherever it could appear)."""
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_FIELD_MARKERS)


def vault_name(key: str, sections: tuple[str, ...]) -> str | None:
    """The vault key of `sections.key`, or None when vaults do not hold that setting."""
    if len(sections) == 2 and sections[0] == "sources" and sections[1]:
        return f"{sections[1]}-{key}".replace("_", "-").lower()
    if sections == _DESTINATION:
        return f"{DESTINATION_ALIAS}-{key}".replace("_", "-").lower()
    if sections == _CREDENTIALS:
        bare = key[len("azure_"):] if key.startswith("azure_") else key
        return f"{DESTINATION_ALIAS}-{bare}".replace("_", "-").lower()
    return None


def guide_env_name(key: str, sections: tuple[str, ...]) -> str | None:
    """The guide's `DLT_<NAME>_<KEY>` variable for `sections.key`, or None."""
    name = vault_name(key, sections)
    return "DLT_" + name.replace("-", "_").upper() if name else None


def dlt_env_name(key: str, sections: tuple[str, ...]) -> str:
    return "__".join((*sections, key)).upper()


def dlt_path(key: str, sections: tuple[str, ...]) -> str:
    return ".".join((*sections, key))


class DeclaredSources:
    """Source names the workbook declares; they decide who owns an ambiguous `DLT_MY_DB_HOST`.

    The environment provider holds one; the run declares the workbook's names when it installs the chain.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: set[str] = set()

    def replace(self, names: Iterable[str]) -> None:
        with self._lock:
            self._names = {n.lower() for n in names if n}

    def owner(self, variable: str) -> str | None:
        """The longest declared name (or the destination alias) that `DLT_<NAME>_...` starts with."""
        upper = variable.upper()
        candidates = [n for n in (*self._names, DESTINATION_ALIAS) if upper.startswith(f"DLT_{n.upper()}_")]
        return max(candidates, key=len) if candidates else None


def guide_env_belongs_to(variable: str, sections: tuple[str, ...], declared: DeclaredSources) -> bool:
    """False when a longer declared source name claims `variable` (longest match wins)."""
    owner = declared.owner(variable)
    if owner is None:
        return True
    if sections and sections[0] == "sources":
        return owner == sections[1].lower()
    return owner == DESTINATION_ALIAS
