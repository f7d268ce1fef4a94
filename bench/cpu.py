"""CPU time used while the benchmark runs, by who used it (Linux /proc; empty elsewhere).

On a small shared machine the figures mean little without knowing what else was running, so
the report says how the CPU time was split: the app (web and worker), PostgreSQL, Redis, the
benchmark client itself, and everything else.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

PROC = Path("/proc")


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds) for every readable process."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
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

    def __init__(self, *, app_pids: list[int]) -> None:
        self.app_pids = set(app_pids)
        self.available = (PROC / "stat").exists()
        self._start: dict[int, tuple[int, str, float]] = {}
        self._busy = 0.0

    def start(self) -> None:
        if self.available:
            self._start, self._busy = _processes(), _busy_seconds()

    def _group(self, pid: int, table: dict[int, tuple[int, str, float]]) -> str:
        seen = set()
        current = pid
        while current in table and current not in seen:
            if current in self.app_pids:
                return "app"
            if current == os.getpid():
                return "client"
            seen.add(current)
            current = table[current][0]
        name = table[pid][1]
        if name.startswith("postgres"):
            return "postgres"
        if name.startswith("redis"):
            return "redis"
        return "other"

    def split(self) -> dict[str, float]:
        if not self.available:
            return {}
        now, busy = _processes(), _busy_seconds()
        used: dict[str, float] = defaultdict(float)
        for pid, (_, _, seconds) in now.items():
            before = self._start.get(pid)
            used[self._group(pid, now)] += seconds - (before[2] if before else 0.0)
        accounted = sum(used.values()) - used["other"]
        used["other"] = max(0.0, busy - self._busy - accounted)
        if not self.app_pids:  # a running app (--url) cannot be told from the rest
            used["other incl. app"] = used.pop("other") + used.pop("app", 0.0)
        return {name: round(value, 1) for name, value in used.items()}
