"""Just enough of the Databricks Jobs service to run one of the bundle's jobs as it is written in YAML.

Tasks run in their order when their dependencies allow (`run_if: ALL_DONE` also after a failure), each on a
fresh simulated cluster (tests/databricks_cluster.py) with its cluster's `spark_env_vars`. The service
substitutes what Databricks would: `${var.*}` (the bundle's defaults or the overrides given),
`${workspace.file_path}`, `{{tasks.<task>.values.<key>}}` (JSON for anything but a string) and, in a
for_each iteration, `{{input}}` (the item, JSON for an object). A notebook task runs its notebook file with
the globals of the fake `dbruntime` (tests/fake_dbruntime: `dbutils` with task values and widgets); a
python_wheel_task runs the wheel's console script. Task values a task sets are kept for later tasks.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from databricks_cluster import ClusterRun, run_on_new_cluster

REPO = Path(__file__).resolve().parents[1]
FAKE_RUNTIME = Path(__file__).with_name("fake_dbruntime")
_VARIABLE = re.compile(r"\$\{var\.([A-Za-z0-9_]+)\}")
_TASK_VALUE = re.compile(r"\{\{tasks\.([A-Za-z0-9_]+)\.values\.([A-Za-z0-9_]+)\}\}")
_NOTEBOOK = ("import runpy, sys; from dbruntime import UserNamespaceInitializer as U; "
             "runpy.run_path(sys.argv[1], init_globals=U.getOrCreate().get_namespace_globals(), run_name='__main__')")


def load_bundle() -> dict[str, Any]:
    """databricks.yml with the resources of every file it includes, as the Databricks CLI assembles them."""
    bundle: dict[str, Any] = yaml.safe_load((REPO / "databricks.yml").read_text(encoding="utf-8"))
    for pattern in bundle.get("include", []):
        for path in sorted(REPO.glob(pattern)):
            included = yaml.safe_load(path.read_text(encoding="utf-8"))
            for kind, items in included.get("resources", {}).items():
                bundle.setdefault("resources", {}).setdefault(kind, {}).update(items)
    return bundle


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class SimulatedJobRun:
    bundle: dict[str, Any]
    job_name: str
    root: Path  # where the clusters' disks and the task values live
    file_path: Path  # what ${workspace.file_path} is: the bundle's synced files
    variables: Mapping[str, str] = field(default_factory=dict)
    task_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, list[ClusterRun]] = field(default_factory=dict)
    inputs: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def job(self) -> dict[str, Any]:
        return dict(self.bundle["resources"]["jobs"][self.job_name])

    def resolve(self, text: str, item: Any = None) -> str:
        def variable(match: re.Match[str]) -> str:
            name = match.group(1)
            return str(self.variables.get(name, self.bundle["variables"][name]["default"]))

        text = _VARIABLE.sub(variable, text).replace("${workspace.file_path}", str(self.file_path))
        text = _TASK_VALUE.sub(lambda m: _text(self.task_values[m.group(1)][m.group(2)]), text)
        return text.replace("{{input}}", _text(item)) if item is not None else text

    def _environment(self, task: dict[str, Any]) -> dict[str, str]:
        cluster = task.get("new_cluster") or next(c["new_cluster"] for c in self.job["job_clusters"]
                                                  if c["job_cluster_key"] == task["job_cluster_key"])
        return {k: self.resolve(str(v)) for k, v in cluster.get("spark_env_vars", {}).items()}

    def _run(self, task: dict[str, Any], item: Any = None, index: int = 0) -> ClusterRun:
        env = self._environment(task)
        name = f"{task['task_key']}-{index}"
        if "notebook_task" in task:
            values = self.root / "task_values" / f"{task['task_key']}.json"
            values.parent.mkdir(parents=True, exist_ok=True)
            widgets = {k: self.resolve(str(v)) for k, v in task["notebook_task"].get("base_parameters", {}).items()}
            path = (REPO / "resources" / task["notebook_task"]["notebook_path"]).resolve()
            env.update({"FAKE_DATABRICKS_TASK_VALUES": str(values), "FAKE_DATABRICKS_WIDGETS": json.dumps(widgets),
                        "PYTHONPATH": os.pathsep.join(p for p in (str(FAKE_RUNTIME), os.environ.get("PYTHONPATH"))
                                                      if p)})
            run = run_on_new_cluster(self.root, name, [sys.executable, "-c", _NOTEBOOK, str(path)], env)
            if values.exists():
                self.task_values[task["task_key"]] = json.loads(values.read_text(encoding="utf-8"))
            return run
        wheel = task["python_wheel_task"]
        script = Path(sys.executable).parent / wheel["entry_point"]
        return run_on_new_cluster(self.root, name, [str(script), *(self.resolve(str(p), item)
                                                                   for p in wheel["parameters"])], env)

    def run(self) -> dict[str, bool]:
        """Run every task; returns per task whether it succeeded (absent: it did not run)."""
        outcome: dict[str, bool] = {}
        for task in self.job["tasks"]:
            needs = [d["task_key"] for d in task.get("depends_on", [])]
            if any(n not in outcome for n in needs):
                continue
            if task.get("run_if", "ALL_SUCCESS") == "ALL_SUCCESS" and not all(outcome[n] for n in needs):
                continue
            key = task["task_key"]
            if "for_each_task" in task:
                loop = task["for_each_task"]
                nested, items = loop["task"], json.loads(self.resolve(loop["inputs"]))
                self.inputs[key] = items
                with ThreadPoolExecutor(int(self.resolve(str(loop.get("concurrency", 1))))) as pool:
                    iterations = [pool.submit(self._run, nested, item, i) for i, item in enumerate(items)]
                    self.runs[key] = [iteration.result() for iteration in iterations]
            else:
                self.runs[key] = [self._run(task)]
            outcome[key] = all(run.code == 0 for run in self.runs[key])
        return outcome
