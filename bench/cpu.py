"""CPU time used while the benchmark runs, by who used it (Linux /proc; empty elsewhere).

On a small shared machine the figures mean little without knowing what else was running, so
the report says how the CPU time was split: the app (web and worker), PostgreSQL, Redis, the
benchmark client itself, and everything else.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

PROC = Path("/proc")


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command line, CPU seconds) for every readable process."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:
            continue
        name = command or stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(entry.name)] = (int(fields[1]), name,
                                  (int(fields[11]) + int(fields[12])) / ticks)
    return found


def _busy_seconds() -> float:
    """CPU seconds spent not idle, all cores together, since boot."""
    first = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Call `start()`, run the load, then `split()` for CPU seconds per group."""

    def __init__(self, *, app_pids: list[int], database: str = "") -> None:
        self.app_pids = app_pids  # the caller may add processes it starts later
        self.database = database  # PostgreSQL backends serving other databases are "other"
        self.available = (PROC / "stat").exists()
        self._start: dict[int, tuple[int, str, float]] = {}
        self._busy = 0.0

    def start(self) -> None:
        if self.available:
            self._start, self._busy = _processes(), _busy_seconds()

    def _group(self, pid: int, table: dict[int, tuple[int, str, float]],
               app: set[int]) -> str:
        seen = set()
        current = pid
        while current in table and current not in seen:
            if current in app:
                return "app"
            if current == os.getpid():
                return "client"
            seen.add(current)
            current = table[current][0]
        command = table[pid][1]
        if command.startswith("postgres") or "/bin/postgres " in command:
            # Backends are titled "postgres: <cluster>: <user> <database> <client> <state>".
            serving = command.split()[3] if command.startswith("postgres: ") and len(
                command.split()) > 4 else ""
            return "other" if serving and self.database and serving != self.database else (
                "postgres")
        if "redis-server" in command or command.startswith("redis"):
            return "redis"
        return "other"

    def split(self) -> dict[str, float]:
        if not self.available:
            return {}
        now, busy = _processes(), _busy_seconds()
        used: dict[str, float] = defaultdict(float)
        app = set(self.app_pids)
        for pid, (_, _, seconds) in now.items():
            before = self._start.get(pid)
            used[self._group(pid, now, app)] += seconds - (before[2] if before else 0.0)
        accounted = sum(used.values()) - used["other"]
        used["other"] = max(0.0, busy - self._busy - accounted)
        if not self.app_pids:  # a running app (--url) cannot be told from the rest
            used["other incl. app"] = used.pop("other") + used.pop("app", 0.0)
        return {name: round(value, 1) for name, value in used.items()}


def machine_speed(*, rounds: int = 3, iterations: int = 2_000_000,
                  clock=time.process_time) -> float:
    """CPU seconds a fixed pure-Python loop takes, best of `rounds`.

    The benchmark VMs share their host and their speed drifts (the same run has needed a third
    more CPU seconds an hour later): printed before and after a run, this says whether two
    runs' figures can be compared.
    """
    best = float("inf")
    for _ in range(rounds):
        began = clock()
        total = 0
        for value in range(iterations):
            total += value * value
        best = min(best, clock() - began)
    return best
