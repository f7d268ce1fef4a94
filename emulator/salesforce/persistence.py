"""Keeping the org's state in a JSON file between runs.

Writes go to a temporary file in the same directory and are renamed over the old one,
so a crash never leaves half a file. Saving after every call would make a large org
(the benchmark's) crawl, so writes are coalesced by a background thread and flushed on
stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path


def load_state(path: Path) -> dict | None:
    """The saved state, or None if there is none. A corrupt file is moved aside, not lost."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("state is not a JSON object")
    except ValueError as exc:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        path.replace(aside)
        print(f"sf-emulator: unreadable state {path} moved to {aside}: {exc}", file=sys.stderr)
        return None
    return data


def save_state(path: Path, data: dict) -> None:
    """Write ``data`` atomically (temp file + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


class Persister:
    """Saves ``snapshot()`` to ``path`` shortly after changes, and once more on ``stop()``."""

    def __init__(self, path: Path, snapshot: Callable[[], dict], interval: float = 0.25):
        self.path = path
        self._snapshot = snapshot
        self._interval = interval
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._save_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sf-emulator-persist", daemon=True)

    def fresh(self) -> Persister:
        """A new persister for the same file (a thread can only be started once)."""
        return Persister(self.path, self._snapshot, self._interval)

    def start(self) -> None:
        self._thread.start()

    def mark_dirty(self) -> None:
        self._dirty.set()

    def flush(self) -> None:
        """Save now, whatever the timer says."""
        with self._save_lock:
            self._dirty.clear()
            save_state(self.path, self._snapshot())

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        pause = self._interval
        while not self._stopping.is_set():
            self._dirty.wait()
            if self._stopping.wait(pause):
                return
            started = time.monotonic()
            try:
                self.flush()
            except OSError as exc:  # keep serving; the next write retries
                print(f"sf-emulator: could not save state: {exc}", file=sys.stderr)
            # A big org takes a while to write: space saves out so they stay a small
            # share of the time instead of competing with requests all the time.
            pause = max(self._interval, 4 * (time.monotonic() - started))
