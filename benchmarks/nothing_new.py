"""An INCREMENTAL run of many tiny tables with nothing new: what a nightly run costs when nothing changed.

    .venv/bin/python benchmarks/nothing_new.py --tables 500 --repeat 3 [--baseline] [--pg-url postgresql://...]

N tables of 10 rows (8 columns: int key, text, numeric, timestamp cursor, timestamptz, bool, bigint, varchar),
one INCREMENTAL job each on the timestamp with the key as primary_key. A first run loads them; then each
round measures, alternating: a run with the working folder kept, a run with it deleted (an ephemeral
cluster restoring every state from the lake), and with `--baseline` a run where every job builds its dlt
pipeline as before (the check switched off in the child process only). Every measured run is checked: all
jobs SUCCESS with 0 rows. Wall time from start to exit, CPU (user + system) of the child, peak RSS is the
child's own VmHWM. Nothing here is part of the test suite; see docs/performance.md for results.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_db import Database, Measure, open_database, small_tables

from dlt_ingest.workbook.template import write_workbook

BASE_CONFIG = '[runtime]\ndlthub_telemetry = false\nlog_level = "WARNING"\n'

_CHILD = """
import atexit, sys
if sys.argv[1] == "pipeline":  # the baseline: every job builds its dlt pipeline, as before the check existed
    from dlt_ingest.engine.unchanged import UnchangedJobs
    UnchangedJobs.take = lambda self, job: None

def peak():  # VmHWM: this process's own peak (ru_maxrss also counts the parent it was forked from)
    status = open("/proc/self/status").read()
    print("VMHWM", int(status.split("VmHWM:")[1].split()[0]) / 1024, file=sys.__stderr__)

atexit.register(peak)
from dlt_ingest.cli.app import main
main(["run", *sys.argv[2:]])
"""


def ingest(project: Path, mode: str, *args: str) -> Measure:
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    load = os.getloadavg()[0]
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, mode, *args], cwd=project, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, errors = child.communicate()
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"ingest run exited {child.returncode}:\n{errors[-3000:]}")
    peak = float(errors.rsplit("VMHWM", 1)[1].split()[0])
    return Measure(seconds, _children_cpu(), peak, load)


_CPU_SEEN = [0.0]


def _children_cpu() -> float:
    """CPU of the child that just ended: the growth of this process's reaped-children total."""
    usage = os.times()
    total = usage.children_user + usage.children_system
    spent, _CPU_SEEN[0] = total - _CPU_SEEN[0], total
    return spent


def create_tables(db: Database, count: int) -> list[str]:
    return small_tables(db, [f"nothing_new_{i:04d}" for i in range(count)], 10)


def make_project(root: Path, db: Database, tables: list[str]) -> Path:
    (root / ".dlt").mkdir(parents=True)
    (root / ".dlt" / "config.toml").write_text(BASE_CONFIG, encoding="utf-8")
    (root / ".dlt" / "secrets.toml").write_text(
        f'[sources.bench]\nhost = "{db.host}"\nport = {db.port}\ndatabase = "{db.database}"\n'
        f"username = {json.dumps(db.user)}\npassword = {json.dumps(db.password)}\n", encoding="utf-8")
    write_workbook(root / "config" / "ingestion_config.xlsx", [
        {"source_type": "postgresql", "source_name": "bench", "schema_name": "public", "table_name": table,
         "load_type": "INCREMENTAL", "watermark_column": "ts", "primary_key": "id",
         "last_watermark": "2020-01-01T00:00:00", "enabled": "Y"} for table in tables])
    return root


def check_last_run(project: Path, count: int, rows: str) -> None:
    audit = []
    for path in sorted((project / "metadata").glob("audit_*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            audit.extend(csv.DictReader(handle))
    last = audit[-count:]
    wrong = [r for r in last if r["status"] != "SUCCESS" or r["rows_processed"] != rows]
    if len(last) != count or wrong:
        raise RuntimeError(f"the run did not load as expected: {wrong[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--baseline", action="store_true", help="also time every job through its pipeline")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"),
                        help="reuse this server (postgresql://user:password@host:port/db); default: start one")
    parser.add_argument("--json", help="also write the raw measurements here")
    args = parser.parse_args()

    db = open_database(args.pg_url)
    work = Path(tempfile.mkdtemp(prefix="dlt-ingest-bench-nothing-new-"))
    results: dict[str, list[Measure]] = {"first": [], "kept": [], "ephemeral": [], "pipeline": []}
    try:
        tables = create_tables(db, args.tables)
        project = make_project(work / "project", db, tables)
        workers = ("--workers", str(args.workers))
        _children_cpu()
        results["first"].append(ingest(project, "check", *workers))
        check_last_run(project, args.tables, "10")
        for round_no in range(args.repeat):
            results["kept"].append(ingest(project, "check", *workers))
            check_last_run(project, args.tables, "0")
            shutil.rmtree(project / ".dlt" / "pipelines")
            results["ephemeral"].append(ingest(project, "check", *workers))
            check_last_run(project, args.tables, "0")
            if args.baseline:
                results["pipeline"].append(ingest(project, "pipeline", *workers))
                check_last_run(project, args.tables, "0")
            print(f"round {round_no + 1}: " + ", ".join(
                f"{name} {runs[-1].seconds:.2f}s (cpu {runs[-1].cpu_seconds:.2f}s, load {runs[-1].load:.1f})"
                for name, runs in results.items() if runs and name != "first"), flush=True)
    finally:
        db.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"| {args.tables} INCREMENTAL tables, nothing new, --workers {args.workers} | wall s (median) | "
          "rounds | CPU s (median) | peak RSS MiB | load (1 min) |")
    print("|---|---|---|---|---|---|")
    labels = {"first": "first run (loads 10 rows each)", "kept": "nothing new, working folder kept",
              "ephemeral": "nothing new, working folder deleted", "pipeline": "nothing new, every job's pipeline"}
    for name, runs in results.items():
        if runs:
            cpu = statistics.median(m.cpu_seconds for m in runs)
            print(f"| {labels[name]} | {statistics.median(m.seconds for m in runs):.2f} | "
                  f"{', '.join(f'{m.seconds:.2f}' for m in runs)} | {cpu:.2f} | "
                  f"{max(m.peak_rss_mib for m in runs):.0f} | {', '.join(f'{m.load:.1f}' for m in runs)} |")
    if args.json:
        Path(args.json).write_text(json.dumps({k: [asdict(m) for m in v] for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
