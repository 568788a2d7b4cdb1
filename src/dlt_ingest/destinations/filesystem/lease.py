"""One writer per job across every machine that writes to one lake: a lease object in the lake itself.

The working folder's file lock (`engine/locks.py`) only keeps two runs of one folder apart; two laptops, or a
laptop and a cluster, share nothing but the lake. So before a job runs, the run creates the job's lease in
the lake: one owner line (host, pid, run id, started, expires). While the run lasts a thread renews every
lease a third of the way through its life; the run releases them at the end. Another run that finds a live
lease waits up to `[ingest] lake_lease_wait_seconds`, then refuses with a `LockError` naming the holder and
when the lease expires. A lease whose holder died (SIGKILL, a lost machine) is not renewed: once it has
expired (`[ingest] lake_lease_seconds`, default 300) the next run takes it over with a compare-and-swap, so
exactly one of several waiting runs gets it; a lease of this machine whose process has exited is taken over
at once. Clocks of the writers are assumed to agree to within seconds.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from dlt_ingest.destinations.filesystem.lease_store import LeaseStore, Stored
from dlt_ingest.errors import LockError
from dlt_ingest.workbook.model import Job

log = logging.getLogger("dlt_ingest.destination")

POLL_SECONDS = 2.0
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Owner:
    """The owner line of a lease."""

    host: str
    pid: int
    run_id: str
    started: datetime
    expires: datetime
    token: str

    @classmethod
    def for_run(cls, run_id: str, seconds: float) -> Owner:
        now = datetime.now(timezone.utc)
        return cls(socket.gethostname() or "unknown-host", os.getpid(), run_id, now.replace(microsecond=0),
                   _expiry(now, seconds), uuid.uuid4().hex)

    def line(self) -> str:
        return (f"host={self.host} pid={self.pid} run={self.run_id} started={self.started:{_STAMP}} "
                f"expires={self.expires:{_STAMP}} token={self.token}\n")

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
        try:
            return cls(fields["host"], int(fields["pid"]), fields["run"],
                       datetime.strptime(fields["started"], _STAMP).replace(tzinfo=timezone.utc),
                       datetime.strptime(fields["expires"], _STAMP).replace(tzinfo=timezone.utc), fields["token"])
        except (KeyError, ValueError):
            return None

    def renewed(self, seconds: float) -> Owner:
        return replace(self, expires=_expiry(datetime.now(timezone.utc), seconds))

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}, run {self.run_id}, started {self.started:%Y-%m-%d %H:%M:%S} UTC"


def _expiry(now: datetime, seconds: float) -> datetime:
    """`now + seconds`, rounded up to the whole second the owner line shows."""
    expires = now + timedelta(seconds=seconds)
    return expires.replace(microsecond=0) + (timedelta(seconds=1) if expires.microsecond else timedelta())


def lease_name(job: Job) -> str:
    return f"{job.pipeline_name}.lease"


_LIVE_TOKENS: set[str] = set()  # leases this process holds now
_LIVE_LOCK = threading.Lock()


def _process_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill on Windows would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder_is_gone(holder: Owner) -> bool:
    """A lease of this machine whose run is over although the lease is not: its process has exited (a kill, a
    crash), or it is this process and no run of it holds the lease any more (its release could not reach the
    lake). Such a lease needs no waiting for its expiry; one of another machine always does."""
    if holder.host != (socket.gethostname() or "unknown-host"):
        return False
    if holder.pid == os.getpid():
        with _LIVE_LOCK:
            return holder.token not in _LIVE_TOKENS
    return not _process_alive(holder.pid)


def _refusal(job: Job, holder: Owner) -> LockError:
    return LockError(
        f"job {job.name} is being loaded by another ingest run writing to the same lake ({holder.describe()}); "
        f"its lease expires at {holder.expires:%Y-%m-%d %H:%M:%S} UTC unless that run renews it: wait for it "
        f"to finish, or --exclude '{job.name}' (a killed run's lease is taken over once it expires; "
        f"[ingest] lake_lease_wait_seconds makes a run wait for it)"
    )


class JobLeases:
    """The leases of one run's jobs: acquired all or none, renewed by a thread, released at the end."""

    def __init__(self, store: LeaseStore, run_id: str, seconds: float, wait_seconds: float) -> None:
        self.store = store
        self.seconds = max(float(seconds), 1.0)
        self.owner = Owner.for_run(run_id, self.seconds)
        self.wait_seconds = max(float(wait_seconds), 0.0)
        self.held: dict[str, tuple[Job, Stored]] = {}
        self.lost: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None

    def acquire(self, jobs: Sequence[Job]) -> None:
        deadline = time.monotonic() + self.wait_seconds
        with _LIVE_LOCK:  # before the first lease exists: another thread of this process must see it alive
            _LIVE_TOKENS.add(self.owner.token)
        try:
            for job in sorted(jobs, key=lease_name):  # one order for every run: no two runs wait on each other
                self.held[lease_name(job)] = (job, self._acquire_one(job, deadline))
        except BaseException:
            self.release()
            raise
        if self.held:
            self._renewer = threading.Thread(target=self._renew_until_stopped, name="lake-lease", daemon=True)
            self._renewer.start()

    def _acquire_one(self, job: Job, deadline: float) -> Stored:
        name = lease_name(job)
        waiting_for: str | None = None
        while True:
            owner = self.owner.renewed(self.seconds)
            created = self.store.create(name, owner.line())
            if created is not None:
                return created
            current = self.store.read(name)
            if current is None:
                continue  # released just now
            holder = Owner.parse(current.text)
            now = datetime.now(timezone.utc)
            if holder is not None and holder.expires > now and not holder_is_gone(holder):
                if time.monotonic() >= deadline:
                    raise _refusal(job, holder)
                if waiting_for != holder.token:
                    waiting_for = holder.token
                    log.warning("%s: waiting up to %ss for the lake lease held by %s (expires %s UTC)", job.name,
                             int(self.wait_seconds), holder.describe(), f"{holder.expires:%Y-%m-%d %H:%M:%S}")
                time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.05)))
                continue
            taken = self.store.swap(name, owner.line(), current.version)
            if taken is not None:
                if holder is not None and holder.expires > now:
                    log.warning("%s: took over the lake lease of %s, whose run has ended without releasing it",
                                job.name, holder.describe())
                else:
                    log.warning("%s: took over the lake lease of %s, which expired at %s UTC without being released",
                                job.name, holder.describe() if holder else "an unreadable owner",
                                f"{holder.expires:%Y-%m-%d %H:%M:%S}" if holder else "?")
                return taken

    def _renew_until_stopped(self) -> None:
        interval = max(self.seconds / 3, 0.5)
        while not self._stop.wait(interval):
            self.renew()

    def renew(self) -> None:
        """Push every held lease's expiry forward; a lease another run took over is reported and dropped."""
        with self._lock:
            for name, (job, stored) in list(self.held.items()):
                try:
                    renewed = self.store.swap(name, self.owner.renewed(self.seconds).line(), stored.version)
                except Exception as exc:  # storage unreachable for a moment: the next renewal tries again
                    log.warning("%s: could not renew the lake lease (%s); trying again", job.name, type(exc).__name__)
                    continue
                if renewed is None:
                    log.error("%s: the lake lease was taken over by another run (this run was too slow to renew it "
                              "within %ss); raise [ingest] lake_lease_seconds", job.name, int(self.seconds))
                    self.lost.add(name)
                    del self.held[name]
                else:
                    self.held[name] = (job, renewed)

    def release(self) -> None:
        with _LIVE_LOCK:
            _LIVE_TOKENS.discard(self.owner.token)
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=30)
        with self._lock:
            for name, (job, stored) in list(self.held.items()):
                try:
                    if not self.store.delete(name, stored.version):
                        log.warning("%s: the lake lease had changed hands before it was released", job.name)
                except Exception as exc:  # it expires on its own
                    log.warning("%s: could not release the lake lease (%s); it expires at its time",
                                job.name, type(exc).__name__)
            self.held.clear()


@contextmanager
def held_leases(store: LeaseStore, jobs: Sequence[Job], run_id: str, seconds: float,
                wait_seconds: float) -> Iterator[JobLeases]:
    leases = JobLeases(store, run_id, seconds, wait_seconds)
    leases.acquire(jobs)
    try:
        yield leases
    finally:
        leases.release()
