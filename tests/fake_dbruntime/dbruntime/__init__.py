"""A stand-in for the Databricks Runtime's own `dbruntime` package, for simulated clusters.

On a cluster, `databricks.sdk.runtime` imports `dbruntime.UserNamespaceInitializer` and takes `dbutils`
from the notebook namespace it builds; with this folder on PYTHONPATH the real SDK does the same here.
This `dbutils` keeps task values in the JSON file named by `FAKE_DATABRICKS_TASK_VALUES` (what the Jobs
service would hold for the task), reads widgets from the JSON object in `FAKE_DATABRICKS_WIDGETS` (the
task's base_parameters) and reads secrets through the SDK's remote dbutils (the workspace's Secrets API).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class _TaskValues:
    def _path(self) -> Path:
        return Path(os.environ["FAKE_DATABRICKS_TASK_VALUES"])

    def set(self, key: str, value: Any) -> None:
        path = self._path()
        values = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        values[key] = json.loads(json.dumps(value))  # only what JSON can hold, as Databricks requires
        path.write_text(json.dumps(values), encoding="utf-8")

    def get(self, taskKey: str, key: str, default: Any = None, debugValue: Any = None) -> Any:
        raise NotImplementedError("the simulated runtime hands task values over as dynamic value references")


class _Jobs:
    def __init__(self) -> None:
        self.taskValues = _TaskValues()  # dbutils spells it so


class _Widgets:
    def __init__(self) -> None:
        self._values: dict[str, str] = json.loads(os.environ.get("FAKE_DATABRICKS_WIDGETS", "{}"))

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._values.setdefault(name, defaultValue)

    def get(self, name: str) -> str:
        return self._values[name]


class _DbUtils:
    def __init__(self) -> None:
        from databricks.sdk.dbutils import RemoteDbUtils

        self.jobs = _Jobs()
        self.widgets = _Widgets()
        self.secrets = RemoteDbUtils().secrets


class UserNamespaceInitializer:
    _instance: UserNamespaceInitializer | None = None

    @classmethod
    def getOrCreate(cls) -> UserNamespaceInitializer:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __init__(self) -> None:
        self._globals = {"dbutils": _DbUtils()}

    def get_namespace_globals(self) -> dict[str, Any]:
        return self._globals
