"""Benchmark `ingest run` against DuckDB's PostgreSQL scanner, and `--workers` on a slow HTTP API.

    .venv/bin/python benchmarks/run.py --rows 1000000 5000000 --repeat 3
    .venv/bin/python benchmarks/run.py many-tables --slope 10 100 500 --mid 60   # benchmarks/many_tables.py
    .venv/bin/python benchmarks/run.py nothing-new --tables 500 --baseline       # benchmarks/nothing_new.py

Every measured program is its own process: wall time from start to exit, peak RSS from `wait4`.
Nothing here is part of the test suite; see docs/performance.md for results.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_server import SlowApi
from bench_db import (
    Database,
    copy_table,
    copy_table_with_uuid_key,
    delete_share,
    ensure_table,
    max_updated_at,
    open_database,
    touch_one_percent,
)

import dlt_ingest
from dlt_ingest.workbook.template import write_workbook

HERE = Path(__file__).resolve().parent
BASE_CONFIG = '[runtime]\ndlthub_telemetry = false\nlog_level = "WARNING"\n'


@dataclass
class Measure:
    seconds: float
    peak_rss_mib: float
    output: str = ""


def run_process(args: list[str], cwd: Path) -> Measure:
    """Run one program to completion; its wall time and peak resident memory (its own, from wait4)."""
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    start = time.perf_counter()
    child = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} exited {child.returncode}:\n{output.decode(errors='replace')}")
    return Measure(seconds, usage.ru_maxrss / 1024, output.decode(errors="replace"))


def make_project(root: Path, db: Database, rows: list[dict[str, Any]], extra_config: str, backend: str | None,
                 settings: tuple[str, ...] = ()) -> Path:
    if root.exists():
        shutil.rmtree(root)
    (root / ".dlt").mkdir(parents=True)
    (root / ".dlt" / "config.toml").write_text(BASE_CONFIG + extra_config + "\n", encoding="utf-8")
    secrets = (f'[sources.bench]\nhost = "{db.host}"\nport = {db.port}\ndatabase = "{db.database}"\n'
               f"username = {json.dumps(db.user)}\npassword = {json.dumps(db.password)}\n")
    if backend:
        secrets += f'backend = "{backend}"\n'
    secrets += "".join(f"{setting}\n" for setting in settings)
    (root / ".dlt" / "secrets.toml").write_text(secrets, encoding="utf-8")
    write_workbook(root / "config" / "ingestion_config.xlsx", rows)
    return root


def ingest(project: Path, *args: str) -> Measure:
    return run_process([sys.executable, "-m", "dlt_ingest", "run", *args], project)


def last_audit_row(project: Path) -> dict[str, str]:
    import csv

    files = sorted((project / "metadata").glob("audit_*.csv"))
    with files[-1].open(encoding="utf-8", newline="") as handle:
        return dict(list(csv.DictReader(handle))[-1])


def last_audit_rows(project: Path) -> int:
    return int(last_audit_row(project)["rows_processed"])


def db_row(table: str, load_type: str, **extra: str) -> dict[str, Any]:
    return {"source_type": "postgresql", "source_name": "bench", "schema_name": "public", "table_name": table,
            "load_type": load_type, "enabled": "Y", "primary_key": "id", **extra}


def bench_table(db: Database, rows: int, repeat: int, work: Path, extra_config: str, backend: str | None,
                floor: bool, settings: tuple[str, ...] = ()) -> dict[str, Any]:
    table = ensure_table(db, rows)
    result: dict[str, Any] = {"rows": rows, "floor": [], "full": [], "incremental": [], "incremental_rows": [],
                              "incremental_empty": []}
    for round_no in range(repeat):
        if floor:
            out = work / "floor.parquet"
            result["floor"].append(run_process(
                [sys.executable, str(HERE / "duckdb_floor.py"), db.libpq_dsn(), table, str(out)], work))
            out.unlink()
        project = make_project(work / "full", db, [db_row(table, "FULL")], extra_config, backend, settings)
        result["full"].append(ingest(project))
        loaded = last_audit_rows(project)
        if loaded != rows:
            raise RuntimeError(f"FULL loaded {loaded} rows, expected {rows}")
        shutil.rmtree(project)
        # INCREMENTAL: seed the cursor at the newest row (cheap), touch 1%, time the run that picks them up
        start = max_updated_at(db, table)
        project = make_project(work / "incr", db, [db_row(table, "INCREMENTAL", watermark_column="updated_at",
                                                          last_watermark=start)], extra_config, backend, settings)
        ingest(project)
        result["incremental_empty"].append(ingest(project))  # nothing new: the fixed cost of a run
        touched = touch_one_percent(db, table, round_no)
        result["incremental"].append(ingest(project))
        result["incremental_rows"].append((last_audit_rows(project), touched))
        shutil.rmtree(project)
        print(f"  {rows:>10,} round {round_no + 1}: " + ", ".join(
            f"{k} {result[k][-1].seconds:.2f}s {result[k][-1].peak_rss_mib:.0f}MiB"
            for k in ("floor", "full", "incremental_empty", "incremental") if result[k]), flush=True)
    return result


def bench_deletes(db: Database, rows: int, repeat: int, work: Path, extra_config: str,
                  key: str = "bigint") -> dict[str, Any]:
    """Delete detection on a copy of `bench_<rows>` with 0.1% of its rows deleted before each round, against
    a plain re-read of every key (its own process, alternating which goes first), the same INCREMENTAL run
    without delete detection, and a FULL reload. `key` uuid gives the copy a uuid primary key (MD5 buckets)."""
    source = ensure_table(db, rows)
    table = copy_table_with_uuid_key(db, source, f"deletes_uuid_{rows}") if key == "uuid" else \
        copy_table(db, source, f"deletes_{rows}")
    row = db_row(table, "INCREMENTAL", watermark_column="updated_at", detect_deletes="Y")
    project = make_project(work / "deletes", db, [row], extra_config, None)
    result: dict[str, Any] = {"rows": rows, "key": key, "first": ingest(project), "compare": [], "plain": [],
                              "without": [], "full": [], "deleted": []}
    reread = [sys.executable, str(HERE / "reread_keys.py"), db.uri(), table, str(project / "lake" / "bench"),
              str(work / "reread-spill"), key]
    for round_no in range(repeat):
        deleted = delete_share(db, table, round_no, column="n" if key == "uuid" else "id")
        result["deleted"].append(deleted)
        for what in ("plain", "compare") if round_no % 2 == 0 else ("compare", "plain"):
            if what == "plain":
                result["plain"].append(run_process(reread, work))
                continue
            result["compare"].append(ingest(project))
            audit = last_audit_row(project)
            if audit["rows_deleted"] != str(deleted):
                raise RuntimeError(f"delete detection found {audit['rows_deleted']} deleted rows, expected {deleted}")
        write_workbook(project / "config" / "ingestion_config.xlsx", [{**row, "detect_deletes": "N"}])
        result["without"].append(ingest(project))  # the same run without the comparison: what it adds
        write_workbook(project / "config" / "ingestion_config.xlsx", [row])
        full = make_project(work / "deletes-full", db, [db_row(table, "FULL")], extra_config, None)
        result["full"].append(ingest(full))
        shutil.rmtree(full)
        print(f"  deletes {rows:>10,} round {round_no + 1} ({deleted:,} deleted): " + ", ".join(
            f"{k} {result[k][-1].seconds:.2f}s {result[k][-1].peak_rss_mib:.0f}MiB"
            for k in ("compare", "plain", "without", "full")), flush=True)
    shutil.rmtree(project)
    return result


def deletes_report(result: dict[str, Any]) -> str:
    cells = {k: (median(result[k], "seconds"), median(result[k], "peak_rss_mib")) for k in
             ("compare", "plain", "without", "full")}
    own = statistics.median(c.seconds - w.seconds for c, w in zip(result["compare"], result["without"], strict=True))
    plain_work = statistics.median(float(m.output.split()[-1]) for m in result["plain"])
    return "\n".join([
        f"Delete detection, {result['rows']:,} rows with a {result['key']} key, "
        f"{statistics.median(result['deleted']):,.0f} deleted per round "
        f"(medians of {len(result['compare'])} rounds; first load of all rows {result['first'].seconds:.2f}s):",
        "| run | seconds | peak RSS MiB |", "|---|---|---|",
        *(f"| {label} | {cells[k][0]:.2f} | {cells[k][1]:.0f} |" for k, label in (
            ("compare", "`ingest run` INCREMENTAL with detect_deletes (nothing new, 0.1% deleted)"),
            ("without", "the same run without detect_deletes"),
            ("plain", "plain re-read of every key (ADBC) anti-joined in DuckDB"),
            ("full", "`ingest run` FULL reload"))),
        f"comparison's own time (with - without, median of rounds): {own:.2f}s; with / FULL: "
        f"{round_ratio(result['compare'], result['full']):.0%}; comparison / plain re-read: "
        f"{round_ratio(result['compare'], result['plain']):.2f}x; the re-read's own work (after starting "
        f"Python): {plain_work:.2f}s, the comparison's own time / it: {own / plain_work:.2f}x"])


def bench_api(jobs: int, pages: int, latency: float, repeat: int, work: Path) -> dict[str, Any]:
    """The same project with --workers 1 and --workers 4, alternating within each round."""
    result: dict[str, Any] = {"jobs": jobs, "pages": pages, "latency": latency, "workers_1": [], "workers_4": []}
    with SlowApi(latency, pages) as api:
        for _ in range(repeat):
            for workers in (1, 4):
                root = work / f"api{workers}"
                if root.exists():
                    shutil.rmtree(root)
                (root / ".dlt").mkdir(parents=True)
                (root / ".dlt" / "config.toml").write_text(BASE_CONFIG, encoding="utf-8")
                (root / ".dlt" / "secrets.toml").write_text("".join(
                    f'[sources.api_{i}]\nbase_url = "{api.base_url}"\n' for i in range(jobs)), encoding="utf-8")
                write_workbook(root / "config" / "ingestion_config.xlsx", [
                    {"source_type": "api", "source_name": f"api_{i}", "table_name": "items", "api_endpoint": "items",
                     "data_selector": "data", "paginator": "json_link", "load_type": "FULL", "enabled": "Y"}
                    for i in range(jobs)])
                result[f"workers_{workers}"].append(ingest(root, "--workers", str(workers)))
                shutil.rmtree(root)
    return result


def median(values: list[Measure], field: str) -> float:
    return statistics.median(getattr(v, field) for v in values)


def round_ratio(runs: list[Measure], bases: list[Measure]) -> float:
    """Median over rounds of a run / its base of the same round: the machine's speed drifts between
    rounds (a shared VM), and a ratio of two medians would mix a fast round with a slow one."""
    return statistics.median(run.seconds / base.seconds for run, base in zip(runs, bases, strict=True))


def report(tables: list[dict[str, Any]], api: dict[str, Any] | None) -> str:
    lines = ["| rows | DuckDB floor s | ingest FULL s | ratio (median of rounds) | rows/s | peak RSS MiB (FULL) "
             "| floor RSS MiB "
             "| INCREMENTAL 1% s | incr/FULL (median of rounds) | INCREMENTAL, nothing new s |", "|---" * 10 + "|"]
    for t in tables:
        full = median(t["full"], "seconds")
        floor = median(t["floor"], "seconds") if t["floor"] else float("nan")
        incr, empty = median(t["incremental"], "seconds"), median(t["incremental_empty"], "seconds")
        floor_rss = f"{median(t['floor'], 'peak_rss_mib'):.0f}" if t["floor"] else "-"
        ratio = round_ratio(t["full"], t["floor"]) if t["floor"] else float("nan")
        lines.append(f"| {t['rows']:,} | {floor:.2f} | {full:.2f} | {ratio:.2f}x | {t['rows'] / full:,.0f} | "
                     f"{median(t['full'], 'peak_rss_mib'):.0f} (max {max(m.peak_rss_mib for m in t['full']):.0f}) | "
                     f"{floor_rss} | {incr:.2f} | {round_ratio(t['incremental'], t['full']):.1%} | {empty:.2f} |")
    if api:
        one, four = median(api["workers_1"], "seconds"), median(api["workers_4"], "seconds")
        lines += ["", f"{api['jobs']} API jobs x {api['pages']} pages at {api['latency'] * 1000:.0f} ms per page: "
                  f"--workers 1 {one:.2f}s, --workers 4 {four:.2f}s, "
                  f"speed-up {1 / round_ratio(api['workers_4'], api['workers_1']):.2f}x (median of rounds)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 5_000_000],
                        help="table sizes for FULL and INCREMENTAL (none: `--rows` alone)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"),
                        help="reuse this server (postgresql://user:password@host:port/db); default: start one")
    parser.add_argument("--backend", help="force a backend (sets backend under [sources.bench]); default auto")
    parser.add_argument("--source-setting", action="append", default=[],
                        help="TOML line added under [sources.bench], e.g. parallel_reads = 1")
    parser.add_argument("--dlt-config", default="", help="TOML appended to the project's .dlt/config.toml")
    parser.add_argument("--no-floor", action="store_true", help="skip the DuckDB floor")
    parser.add_argument("--no-tables", action="store_true", help="skip the PostgreSQL tables (API comparison only)")
    parser.add_argument("--api-jobs", type=int, default=8, help="0 skips the API comparison")
    parser.add_argument("--api-pages", type=int, default=5)
    parser.add_argument("--api-latency", type=float, default=0.1)
    parser.add_argument("--deletes-rows", type=int, default=0,
                        help="also measure delete detection on a table of this many rows (0.1%% deleted per round)")
    parser.add_argument("--deletes-key", choices=["bigint", "uuid"], default="bigint",
                        help="the deletes table's primary key: bigint (key ranges) or uuid (MD5 buckets)")
    parser.add_argument("--json", help="also write the raw measurements here")
    args = parser.parse_args()

    # measure an installed package: pip compiles its bytecode at install time, an editable checkout (or a
    # worktree, with PYTHONDONTWRITEBYTECODE set) would otherwise compile ~60 modules in every run
    compileall.compile_dir(str(Path(dlt_ingest.__file__).parent), quiet=1)
    db = None if args.no_tables else open_database(args.pg_url)
    work = Path(tempfile.mkdtemp(prefix="dlt-ingest-bench-"))
    try:
        tables = [bench_table(db, rows, args.repeat, work, args.dlt_config, args.backend, not args.no_floor,
                          tuple(args.source_setting))
                  for rows in args.rows] if db else []
        deletes = bench_deletes(db, args.deletes_rows, args.repeat, work, args.dlt_config, args.deletes_key) \
            if db and args.deletes_rows else None
        api = bench_api(args.api_jobs, args.api_pages, args.api_latency, args.repeat, work) if args.api_jobs else None
    finally:
        if db:
            db.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(report(tables, api))
    if deletes:
        print()
        print(deletes_report(deletes))
    if args.json:
        def plain(value: Any) -> Any:
            return asdict(value) if isinstance(value, Measure) else value

        Path(args.json).write_text(json.dumps({"tables": tables, "api": api, "deletes": deletes}, default=plain,
                                              indent=1))


SCENARIOS = {"many-tables": "many_tables", "nothing-new": "nothing_new"}  # each its own script, named here too

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in SCENARIOS:
        scenario = importlib.import_module(SCENARIOS[sys.argv.pop(1)])
        scenario.main()
    else:
        main()
