"""How long `ingest validate-config` takes, and how much memory, on large and hostile workbooks.

    .venv/bin/python benchmarks/workbook.py [--repeat 3]

Cases: a 59 MB workbook (one job, ~600,000 rows of notes in two unknown columns), 10,000 job rows (the
limit), and a formatted empty cell at XFD1048576. Each is validated in its own process; wall time from
start to exit, peak RSS is the child's own VmHWM; medians over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from dlt_ingest.workbook.template import write_workbook  # noqa: E402
from large_workbook import write_large_workbook  # noqa: E402
from workbook_variants import FAR_CELLS, ROW  # noqa: E402

_CHILD = """
import sys
from dlt_ingest.cli.app import main
try:
    main(["validate-config", "--config", sys.argv[1]])
except SystemExit as exc:
    code = exc.code or 0
else:
    code = 0
status = open("/proc/self/status").read()  # VmHWM: this process's peak (ru_maxrss also counts its parent)
print(code, int(status.split("VmHWM:")[1].split()[0]) / 1024, file=sys.__stderr__)
"""


def _measure(path: Path) -> tuple[float, float, int]:
    """(seconds, peak MB, exit code) of one validate-config in a child process."""
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], cwd=path.parent, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.monotonic() - started
    code, peak = done.stderr.strip().splitlines()[-1].split()
    return seconds, float(peak), int(code)


def _cases(folder: Path) -> dict[str, Path]:
    (folder / ".dlt").mkdir(exist_ok=True)
    cases = {"59 MB, notes in unknown columns": write_large_workbook(folder / "large.xlsx", megabytes=50)}
    rows = [{**ROW, "table_name": f"t{i}", "enabled": "N"} for i in range(10_000)]
    cases["10,000 job rows"] = write_workbook(folder / "rows.xlsx", rows)
    FAR_CELLS[0].make(folder / "far.xlsx")
    cases["formatted cell at XFD1048576"] = folder / "far.xlsx"
    return cases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        cases = _cases(Path(temp))
        print(f"{'case':<36} {'size':>8} {'exit':>4} {'seconds':>8} {'peak MB':>8}")
        for name, path in cases.items():
            runs = [_measure(path) for _ in range(args.repeat)]
            seconds = statistics.median(r[0] for r in runs)
            peak = statistics.median(r[1] for r in runs)
            print(f"{name:<36} {path.stat().st_size / 1e6:>6.1f}MB {runs[0][2]:>4} {seconds:>8.2f} {peak:>8.0f}")


if __name__ == "__main__":
    main()
