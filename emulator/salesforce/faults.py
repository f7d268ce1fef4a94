"""Injected faults: the failures a real org produces now and then, on demand.

A client's retry, backoff, re-login and row-lock handling only get exercised if those
failures happen; here a test (or the control API) queues them for the next N matching
REST calls. Each fault can be narrowed to an HTTP method and a path pattern.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass

KINDS = ("server_error", "latency", "unable_to_lock_row", "invalid_session", "request_limit")
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass
class Fault:
    """One queued fault; ``remaining`` counts the calls it still applies to."""

    kind: str
    remaining: int = 1
    seconds: float = 0.0
    status: int = 503
    method: str | None = None
    path: str | None = None
    records: int | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return not self.path or re.search(self.path, path) is not None

    def as_dict(self) -> dict:
        return asdict(self)


def make_fault(kind: str, count: int = 1, **options) -> Fault:
    """Validate and build a fault; ``options`` are seconds, status, method, path, records."""
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    if count < 1:
        raise ValueError("count must be at least 1")
    unknown = set(options) - {"seconds", "status", "method", "path", "records"}
    if unknown:
        raise ValueError(f"unknown fault options: {', '.join(sorted(unknown))}")
    options = {k: v for k, v in options.items() if v is not None}
    if kind == "server_error" and options.get("status", 503) not in (500, 502, 503):
        raise ValueError("server_error status must be 500, 502 or 503")
    if kind == "latency" and float(options.get("seconds", 0)) <= 0:
        raise ValueError("latency needs seconds > 0")
    if "path" in options:
        re.compile(options["path"])
    return Fault(kind=kind, remaining=int(count), **options)


class FaultBook:
    """The queue of pending faults, safe to use from many request threads."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict]:
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def take(
        self, kind: str, method: str, path: str, *, explicit_path: bool = False
    ) -> Fault | None:
        """Consume one use of the first pending ``kind`` fault matching this call.

        ``explicit_path`` limits the match to faults that name a path: the token endpoint
        uses it, so a plain "next N REST calls" fault never lands on a login.
        """
        if kind == "unable_to_lock_row" and method not in WRITE_METHODS:
            return None
        with self._lock:
            for fault in self._faults:
                if explicit_path and not fault.path:
                    continue
                if fault.kind == kind and fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None
