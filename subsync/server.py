"""The web server: granian serving subsync.wsgi, one command for `make run`, the Docker image
and the benchmarks.

Why granian and not gunicorn: on the 2-core benchmark machine it acknowledged about 15% more
webhook deliveries per CPU second (its HTTP handling is compiled, and it keeps connections
alive, which the synchronous gunicorn workers did not), see README "Performance".

Its Rust side runs single-threaded in each worker process (`--runtime-mode st`): for a WSGI
app granian otherwise picks its multi-threaded runtime, whose hand-offs cost the web
processes 10-15% more CPU per webhook on that machine (measured with the web alone), while
the Python code runs in the blocking threads either way.

    python -m subsync.server            # WEB_HOST, PORT, WEB_CONCURRENCY, WEB_THREADS
"""

from __future__ import annotations

import os
import sys


def command(*, host: str, port: int | str, workers: int | str = 2, threads: int | str = 2,
            access_log: bool = False, log_level: str = "info") -> list[str]:
    """The granian command line serving the app on host:port."""
    cmd = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host,
           "--port", str(port), "--workers", str(workers), "--blocking-threads", str(threads),
           "--runtime-mode", "st", "--no-ws", "--backlog", "2048", "--log-level", log_level]
    if access_log:
        cmd.append("--access-log")
    return [*cmd, "subsync.wsgi:application"]


def main() -> None:
    env = os.environ
    cmd = command(host=env.get("WEB_HOST", "0.0.0.0"), port=env.get("PORT", "8000"),  # noqa: S104 - in a container
                  workers=env.get("WEB_CONCURRENCY", "2"), threads=env.get("WEB_THREADS", "4"),
                  access_log=True)
    os.execv(cmd[0], cmd)  # noqa: S606 - replaces this process with the server


if __name__ == "__main__":
    main()
