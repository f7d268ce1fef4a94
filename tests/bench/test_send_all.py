"""bench.webhooks.send_all: every delivery answered once, and the two ways of pacing them.

Real HTTP to a local server that takes at least SLOW seconds per answer. Only lower bounds
on latency are asserted: they follow from that minimum, whatever the machine's speed.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler

import pytest

from bench.mix import Delivery
from bench.webhooks import Ack, connection_spread, send_all, write_trace
from emulator.local_server import LocalServer

SLOW = 0.03


class SlowServer(LocalServer):
    thread_name = "slow-server"

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.collecting: list[bool] = []  # whether the garbage collector was on, per request
        self.lock = threading.Lock()

    class handler_class(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the app's server

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with self.fake.lock:
                self.fake.bodies.append(body)
                self.fake.collecting.append(gc.isenabled())
            time.sleep(SLOW)
            answer = json.dumps({"status": "accepted"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass


@pytest.fixture
def server():
    with SlowServer() as running:
        yield running


def deliveries(count: int) -> list[Delivery]:
    return [Delivery(provider="chargebee", path="/webhooks/chargebee/",
                     headers={"Content-Type": "application/json"},
                     body=json.dumps({"n": n}).encode(), event_id=f"ev_{n}")
            for n in range(count)]


def test_closed_loop_sends_each_delivery_once_and_times_each_answer(server):
    acks, elapsed, _ = send_all(server.base_url, deliveries(12), concurrency=3)

    assert sorted(json.loads(b)["n"] for b in server.bodies) == list(range(12))
    assert [a.status for a in acks] == [200] * 12
    assert {a.outcome for a in acks} == {"accepted"}
    assert min(a.seconds for a in acks) >= SLOW
    assert elapsed >= 4 * SLOW  # 12 answers over 3 connections, one after another on each
    assert sorted(Counter(a.connection for a in acks).values()) == [4, 4, 4]


def test_the_client_does_not_collect_garbage_while_it_sends(server):
    """The server runs in this process: it sees the collector off while the client sends, and
    the collector is back on afterwards."""
    assert gc.isenabled()

    send_all(server.base_url, deliveries(4), concurrency=2)

    assert server.collecting == [False] * 4
    assert gc.isenabled()


def test_open_loop_counts_the_wait_for_a_busy_connection(server):
    """At 1,000/s over one connection, delivery i is due at i ms but cannot be sent before
    the i answers ahead of it: its latency, measured from when it was due, holds that wait."""
    acks, elapsed, _ = send_all(server.base_url, deliveries(8), concurrency=1, rate=1000)

    assert len(server.bodies) == 8
    for index, ack in enumerate(acks):
        assert ack.seconds >= (index + 1) * SLOW - index / 1000
        assert ack.sent_at == pytest.approx(index / 1000, abs=1e-9)  # when it was due
    assert elapsed >= 8 * SLOW


def test_open_loop_keeps_to_the_rate_when_the_app_is_fast_enough(server):
    """At 20/s the last of 6 deliveries is not sent before it is due, 0.25 s after the first."""
    acks, elapsed, _ = send_all(server.base_url, deliveries(6), concurrency=4, rate=20)

    assert len(acks) == 6
    assert elapsed >= 5 / 20 + SLOW


def test_the_trace_has_one_line_per_delivery(server, tmp_path):
    sent = deliveries(5)
    acks, _, _ = send_all(server.base_url, sent, concurrency=2)
    path = tmp_path / "trace.jsonl"

    write_trace(path, sent, acks)

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["index"] for line in lines] == [0, 1, 2, 3, 4]
    assert {line["provider"] for line in lines} == {"chargebee"}
    assert all(line["status"] == 200 and line["ms"] >= SLOW * 1000 for line in lines)
    assert all(line["sent_at"] >= 0 for line in lines)
    assert {line["connection"] for line in lines} == {0, 1}
    # Two connections: the fifth delivery waits for an answer before it is sent.
    assert lines[4]["sent_at"] >= SLOW


def test_connection_spread_names_the_fastest_and_slowest_connection():
    acks = [Ack(status=200, outcome="accepted", seconds=s, connection=c)
            for s, c in ((0.010, 0), (0.030, 0), (0.040, 1), (0.030, 2))]

    assert connection_spread(acks) == "20.0-40.0 ms over 3 connections"
    assert connection_spread([]) == "n/a"
