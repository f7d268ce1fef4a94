"""Send the same request from several threads at once, each on its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def at_once(request: Callable[[], tuple], *, threads: int = 8) -> list[tuple]:
    """Run `request` in `threads` threads released together; return what each returned."""
    barrier = threading.Barrier(threads)
    results: list[tuple] = []

    def run():
        try:
            barrier.wait()
            results.append(request())
        finally:
            connection.close()  # each thread opened its own connection

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results
