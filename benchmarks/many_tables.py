"""Many tables of one PostgreSQL source: the fixed cost of a job, and a workbook of 60 mid-size tables against
Sling and plain dlt, in one invocation, alternating within each round.

    .venv/bin/python benchmarks/many_tables.py --slope 10 100 500 --mid 60 --rounds 3

- slope: N tables of 10 rows, FULL, `ingest run --workers 1` (and `--workers 2` with --slope-workers 2):
  wall and CPU seconds per run; the fixed cost per job is the slope of a least-squares line through them.
- mid: 60 tables of 20,000 rows x 8 columns, FULL: `ingest run --workers 4`, Sling (PyPI `sling-linux-amd64`,
  its own binary, with SLING_DUCKDB_COMPUTE=false so it downloads nothing) and plain dlt (`sql_database`, one
  pipeline, the pyarrow backend) where installed.

Every program is its own process: wall time start to exit, CPU and peak RSS from `wait4`, and the load
average at the end (other work on a shared machine shows there). Nothing here is part of the test suite;
see docs/performance.md for results.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_db import Database, Measure, open_database, small_tables

import dlt_ingest
from dlt_ingest.workbook.template import write_workbook

HERE = Path(__file__).resolve().parent
BASE_CONFIG = '[runtime]\ndlthub_telemetry = false\nlog_level = "WARNING"\n'
ENV = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "SLING_DUCKDB_COMPUTE": "false",
       "SLING_DISABLE_TELEMETRY": "true"}


def run_process(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Measure:
    start = time.perf_counter()
    child = subprocess.Popen(args, cwd=cwd, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed:\n{output.decode(errors='replace')[-3000:]}")
    return Measure(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.getloadavg()[0])


def tables(db: Database, prefix: str, count: int, rows: int) -> list[str]:
    """`<prefix>_0000`.. with `rows` rows each, created once and reused."""
    return small_tables(db, [f"{prefix}_{i:04d}" for i in range(count)], rows)


def project(root: Path, db: Database, names: list[str], config: str = "") -> Path:
    if root.exists():
        shutil.rmtree(root)
    (root / ".dlt").mkdir(parents=True)
    (root / ".dlt" / "config.toml").write_text(BASE_CONFIG + config, encoding="utf-8")
    (root / ".dlt" / "secrets.toml").write_text(
        f'[sources.bench]\nhost = "{db.host}"\nport = {db.port}\ndatabase = "{db.database}"\n'
        f"username = {json.dumps(db.user)}\npassword = {json.dumps(db.password)}\n", encoding="utf-8")
    write_workbook(root / "config" / "ingestion_config.xlsx", [
        {"source_type": "postgresql", "source_name": "bench", "schema_name": "public", "table_name": name,
         "load_type": "FULL", "enabled": "Y", "primary_key": "id"} for name in names])
    return root


def check_audit(root: Path, jobs: int, rows: int) -> None:
    import csv

    found: list[dict[str, str]] = []
    for path in sorted((root / "metadata").glob("audit_*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            found += list(csv.DictReader(handle))
    bad = [r for r in found if r["status"] != "SUCCESS" or int(r["rows_processed"]) != rows]
    if len(found) != jobs or bad:
        raise RuntimeError(f"audit: {len(found)} rows, {len(bad)} wrong, e.g. {bad[:1]}")


def ingest(root: Path, *args: str) -> Measure:
    return run_process([sys.executable, "-m", "dlt_ingest", "run", *args], root)


def sling_binary(given: str | None) -> str | None:
    if given:
        return given
    spec = importlib.util.find_spec("sling_linux_amd64")
    if spec is None or not spec.submodule_search_locations:
        return shutil.which("sling")
    found = Path(next(iter(spec.submodule_search_locations))) / "bin" / "sling-linux-amd64"
    return str(found) if found.exists() else None


def sling(binary: str, db: Database, names: list[str], out: Path) -> Measure:
    url = (f"postgresql://{urllib.parse.quote(db.user, safe='')}:{urllib.parse.quote(db.password, safe='')}"
           f"@{db.host}:{db.port}/{db.database}?sslmode=disable")
    replication = out / "replication.yaml"
    replication.write_text("\n".join([
        "source: PG", "target: LOCAL", "defaults:", "  mode: full-refresh",
        f"  object: 'file://{out}/lake/{{stream_schema}}/{{stream_table}}/data.parquet'",
        "  target_options:", "    format: parquet", "streams:", *[f"  public.{n}:" for n in names]]) + "\n")
    env = {**ENV, "PG": url, "SLING_HOME_DIR": str(out / ".sling")}
    measure = run_process([binary, "run", "-r", str(replication)], out, env)
    written = {p.parent for p in (out / "lake").rglob("*.parquet")}
    if len(written) != len(names):
        raise RuntimeError(f"sling wrote {len(written)} tables of {len(names)}")
    return measure


PLAIN_DLT = """
import os, sys
os.environ["EXTRACT__NEXT_ITEM_MODE"] = "fifo"  # round_robin opens every table's connection at once
import dlt, sqlalchemy as sa
from dlt.sources.sql_database import sql_database
url, out, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
source = sql_database(credentials=sa.create_engine(url), schema="public", table_names=names, backend="pyarrow",
                      reflection_level="full_with_precision")
pipeline = dlt.pipeline(pipeline_name="plain", destination=dlt.destinations.filesystem(bucket_url=out + "/lake"),
                        dataset_name="bench", pipelines_dir=out + "/pipelines")
pipeline.run(source, loader_file_format="parquet")
"""


def plain_dlt(db: Database, names: list[str], out: Path) -> Measure:
    url = (f"postgresql+psycopg2://{urllib.parse.quote(db.user, safe='')}:{urllib.parse.quote(db.password, safe='')}"
           f"@{db.host}:{db.port}/{db.database}")
    return run_process([sys.executable, "-c", PLAIN_DLT, url, str(out), ",".join(names)], out)


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares seconds per job."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x in xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slope", type=int, nargs="*", default=[10, 100, 500], help="table counts (10 rows each)")
    parser.add_argument("--slope-workers", type=int, nargs="+", default=[1])
    parser.add_argument("--mid", type=int, default=60, help="20,000-row tables for the peer comparison; 0 skips")
    parser.add_argument("--mid-workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"))
    parser.add_argument("--sling", help="the sling binary (default: the sling-linux-amd64 package's)")
    parser.add_argument("--config", default="", help="TOML appended to each ingest project's .dlt/config.toml")
    parser.add_argument("--json", help="also write the raw measurements here")
    args = parser.parse_args()
    compileall.compile_dir(str(Path(dlt_ingest.__file__).parent), quiet=1)
    db = open_database(args.pg_url)
    work = Path(tempfile.mkdtemp(prefix="dlt-ingest-many-"))
    raw: dict[str, list[dict[str, Any]]] = {}
    try:
        tiny = tables(db, "tiny", max(args.slope or [0]), 10)
        mid = tables(db, "mid", args.mid, 20_000)
        binary = sling_binary(args.sling)
        has_dlt_sql = importlib.util.find_spec("dlt.sources.sql_database") is not None
        for round_no in range(args.rounds):
            for count in args.slope:
                for workers in args.slope_workers:
                    root = project(work / "slope", db, tiny[:count], args.config)
                    measure = ingest(root, "--workers", str(workers))
                    check_audit(root, count, 10)
                    raw.setdefault(f"slope_w{workers}_{count}", []).append(asdict(measure))
                    print(f"round {round_no + 1}: {count} tiny tables, --workers {workers}: {measure}", flush=True)
            if args.mid:
                root = project(work / "mid", db, mid, args.config)
                measure = ingest(root, "--workers", str(args.mid_workers))
                check_audit(root, len(mid), 20_000)
                raw.setdefault("mid_ingest", []).append(asdict(measure))
                print(f"round {round_no + 1}: {len(mid)} x 20k, ingest --workers {args.mid_workers}: {measure}")
                if binary:
                    out = work / "sling"
                    shutil.rmtree(out, ignore_errors=True)
                    out.mkdir()
                    raw.setdefault("mid_sling", []).append(asdict(sling(binary, db, mid, out)))
                    print(f"round {round_no + 1}: sling: {raw['mid_sling'][-1]}", flush=True)
                if has_dlt_sql:
                    out = work / "dlt"
                    shutil.rmtree(out, ignore_errors=True)
                    out.mkdir()
                    raw.setdefault("mid_dlt", []).append(asdict(plain_dlt(db, mid, out)))
                    print(f"round {round_no + 1}: plain dlt: {raw['mid_dlt'][-1]}", flush=True)
        print(report(raw, args))
        if args.json:
            Path(args.json).write_text(json.dumps(raw, indent=1), encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        db.stop()


def report(raw: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> str:
    lines = ["| case | wall s (median of rounds) | CPU s | peak RSS MiB | load |", "|---|---|---|---|---|"]
    for key, runs in raw.items():
        rounds = ", ".join(f"{r['seconds']:.1f}" for r in runs)
        lines.append(f"| {key} | {statistics.median(r['seconds'] for r in runs):.2f} ({rounds}) | "
                     f"{statistics.median(r['cpu_seconds'] for r in runs):.2f} | "
                     f"{max(r['peak_rss_mib'] for r in runs):.0f} | "
                     f"{statistics.median(r['load'] for r in runs):.1f} |")
    for workers in args.slope_workers:
        wall = [(n, statistics.median(r["seconds"] for r in raw[f"slope_w{workers}_{n}"])) for n in args.slope]
        cpu = [(n, statistics.median(r["cpu_seconds"] for r in raw[f"slope_w{workers}_{n}"])) for n in args.slope]
        if len(wall) > 1:
            lines.append(f"\nper-job fixed cost, --workers {workers}: {slope(wall) * 1000:.0f} ms wall, "
                         f"{slope(cpu) * 1000:.0f} ms CPU (least squares over {', '.join(map(str, args.slope))} jobs)")
    if "mid_ingest" in raw:
        ingest_wall = statistics.median(r["seconds"] for r in raw["mid_ingest"])
        for peer in ("mid_sling", "mid_dlt"):
            if peer in raw:
                ratios = [i["seconds"] / p["seconds"] for i, p in zip(raw["mid_ingest"], raw[peer], strict=False)]
                lines.append(f"ingest / {peer[4:]}: {statistics.median(ratios):.2f}x (median of per-round ratios; "
                             f"ingest {ingest_wall:.2f}s)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
