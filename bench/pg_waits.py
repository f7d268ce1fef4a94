"""What the benchmark database's connections were waiting for, sampled while the load runs.

A thread reads pg_stat_activity every `interval` seconds for the active connections of one
database and counts what each was doing: on the CPU, or waiting on a lock, a log flush, I/O.
The summary says which waits were common and the longest stretch in which some connection
was waiting for the write-ahead log to reach the disk (IO:WALSync) with others queued behind
it (LWLock:WALWrite): on a disk whose flushes sometimes take a few hundred milliseconds, that
is when every webhook acknowledgement waits at once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psycopg

QUERY = """
    SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU')
    FROM pg_stat_activity
    WHERE datname = %s AND state = 'active' AND pid <> pg_backend_pid()
"""
FLUSH = "IO:WALSync"


@dataclass
class WaitSummary:
    samples: int = 0
    counts: Counter = field(default_factory=Counter)
    longest_flush_s: float = 0.0  # longest run of samples with a connection in IO:WALSync
    most_queued: int = 0  # most connections waiting on LWLock:WALWrite in one sample

    def lines(self) -> list[str]:
        total = sum(self.counts.values()) or 1
        top = ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in self.counts.most_common(6))
        return [f"{self.samples} samples of active connections: {top}",
                f"longest log flush seen {1000 * self.longest_flush_s:.0f} ms, with up to "
                f"{self.most_queued} connections queued behind a flush"]


class WaitSampler:
    """Start, run the load, stop: then `summary`."""

    def __init__(self, *, conninfo: str, database: str, interval: float = 0.01) -> None:
        self.conninfo, self.database, self.interval = conninfo, database, interval
        self.summary = WaitSummary()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-waits", daemon=True)

    def start(self) -> WaitSampler:
        self._thread.start()
        return self

    def stop(self) -> WaitSummary:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.summary

    def _run(self) -> None:
        flush_began: float | None = None
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while not self._stop.is_set():
                now = time.monotonic()
                waits = [row[0] for row in conn.execute(QUERY, [self.database])]
                self.record(waits)
                if FLUSH in waits:
                    flush_began = now if flush_began is None else flush_began
                    self.summary.longest_flush_s = max(self.summary.longest_flush_s,
                                                       now - flush_began)
                else:
                    flush_began = None
                self._stop.wait(self.interval)

    def record(self, waits: list[str]) -> None:
        self.summary.samples += 1
        self.summary.counts.update(waits)
        self.summary.most_queued = max(self.summary.most_queued,
                                       waits.count("LWLock:WALWrite"))
