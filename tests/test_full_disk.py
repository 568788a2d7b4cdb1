"""A full disk under a local lake: no truncated, unreadable Parquet file under a final name, and the next run
(with room again) completes the load with every row exactly once.

The lake lives on a real 512 KB tmpfs mounted for the test (the machine's own ENOSPC); where mounting is not
allowed the mount test is skipped and the write itself is covered by an interrupted writer.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pyarrow.parquet as pq
import pytest

from conftest import Project
from dlt_ingest.destinations.filesystem.atomic import write_atomically
from lake_backends import LocalLake
from reading_rule import checksum, lake_rows, orphan_files, read_completed

ROWS = 12_000
BIG = {"source_type": "sqlite", "source_name": "demo", "table_name": "payloads", "load_type": "INCREMENTAL",
       "watermark_column": "id", "primary_key": "id", "chunk_size": 1000, "enabled": "Y"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()[:80]}); "
                    "test_an_interrupted_write_leaves_no_file_under_its_final_name covers the write")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _payload_table(project: Project) -> list[tuple[int, str]]:
    """Rows whose payload does not compress, so the Parquet files outgrow the small disk."""
    rows = [(i, os.urandom(50).hex()) for i in range(1, ROWS + 1)]  # about 1.3 MB of Parquet
    with sqlite3.connect(project.path / "data" / "demo.sqlite") as connection:
        connection.execute("CREATE TABLE payloads (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        connection.executemany("INSERT INTO payloads VALUES (?, ?)", rows)
    return rows


def _every_parquet_file_reads(lake: Path) -> list[str]:
    broken = []
    for file in lake.rglob("*.parquet"):
        try:
            pq.read_table(file)
        except Exception as exc:  # what a reader listing the folder would hit
            broken.append(f"{file.name}: {type(exc).__name__}")
    return broken


@pytest.mark.slow
def test_a_full_disk_leaves_no_unreadable_file_and_the_next_run_loads_every_row_once(
        project: Project, small_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_WRITER__FILE_MAX_ITEMS", "1000")  # several files, so the disk fills between them
    monkeypatch.setenv("LOAD__RAISE_ON_MAX_RETRIES", "2")
    monkeypatch.setenv("LOAD__WORKERS", "1")  # one copy at a time: the first files fit, a later one does not
    rows = _payload_table(project)
    root = small_disk / "lake"
    project.append_config(f'[destination.filesystem]\nbucket_url = "{root.as_uri()}"\n\n[ingest]\nretry_attempts = 1\n')
    project.write_workbook([BIG])
    lake = LocalLake(project)
    lake.root = root

    full = project.ingest("run")
    assert full.exit_code == 1, full.output
    error = project.audit_rows()[0]["error_message"]
    assert error.startswith("cannot write to the lake: ") and "No space left on device" in error, error
    assert any(root.rglob("*.parquet")), "some files fitted before the disk was full"
    assert _every_parquet_file_reads(root) == []
    assert not [p for p in root.rglob("*") if p.name.endswith(".partial")]
    assert read_completed(lake, "demo", "payloads") is None  # the load never completed

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    room = project.ingest("run")
    assert room.exit_code == 0, room.output
    assert "left pending by an earlier run" in project.audit_rows()[-1]["warnings"]
    loaded = lake_rows(read_completed(lake, "demo", "payloads"), "id", "payload")
    assert len(loaded) == ROWS and checksum(loaded) == checksum(rows)
    assert orphan_files(lake, "demo", "payloads") == []
    assert _every_parquet_file_reads(root) == []


def test_an_interrupted_write_leaves_no_file_under_its_final_name(tmp_path: Path) -> None:
    target = tmp_path / "table" / "2026" / "1770123857.12345.abc.parquet"

    def disk_fills(handle: IO[bytes]) -> None:
        handle.write(b"PAR1" + b"\0" * 4096)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomically(str(target), disk_fills)
    assert list(target.parent.iterdir()) == []

    target.write_bytes(b"the complete earlier copy")
    with pytest.raises(OSError):
        write_atomically(str(target), disk_fills)
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert target.read_bytes() == b"the complete earlier copy"


def test_a_partial_copy_a_killed_run_left_is_removed_by_the_next_run(project: Project) -> None:
    project.write_workbook([{"source_type": "sqlite", "source_name": "demo", "table_name": "products",
                             "load_type": "FULL", "enabled": "Y"}])
    assert project.ingest("run").exit_code == 0
    folder = project.lake_files("demo", "products")[0].parent
    leftover = folder / ".1770000000.1.deadbeef.parquet.partial"
    leftover.write_bytes(b"PAR1 half a file")
    assert project.ingest("run").exit_code == 0
    assert not leftover.exists()
    warnings = project.audit_rows()[-1]["warnings"]
    assert "removed 1 unfinished copy(ies) of a run that was killed while writing" in warnings
