"""A steady webhook load that behaves like the providers: what is not acknowledged is resent.

Chargebee and Braintree retry a delivery that got no 2xx answer (an error status, a refused or
dropped connection, a timeout) for days; here the retry comes RETRY_SECONDS later, compressed.
So an event the app could not take during an outage is not lost to the provider: it is lost
only if the app acknowledged it and then never applied it, which is what the fault campaign
checks. Deliveries come from bench.mix plans (duplicates and disorder included).
"""

from __future__ import annotations

import heapq
import http.client
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

from bench.mix import Delivery

RETRY_SECONDS = 2.0


class ProviderLoad:
    """Sender threads over one schedule of (due time, delivery); `feed` adds deliveries at a
    steady rate until `stop_feeding`."""

    def __init__(self, url: str, *, senders: int = 4, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self._heap: list[tuple[float, int, Delivery]] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._in_flight = 0
        self._closing = False
        self._feeding: threading.Event | None = None
        self.sent: list[Delivery] = []  # first sends, in order (re-sends not repeated)
        self.acked: set[tuple[str, str]] = set()  # (provider, event_id) answered 2xx
        self.answers: Counter = Counter()  # HTTP status (0: no answer) of every attempt
        self._threads = [threading.Thread(target=self._send_loop, daemon=True)
                         for _ in range(senders)]
        for thread in self._threads:
            thread.start()

    # scheduling -------------------------------------------------------------------------------

    def _push(self, due: float, delivery: Delivery) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, (due, self._seq, delivery))
            self._cond.notify()

    def feed(self, deliveries: list[Delivery], *, rate: float) -> None:
        """Offer `deliveries` one every 1/`rate` s, in a thread, until stop_feeding()."""
        stop = self._feeding = threading.Event()

        def run() -> None:
            began = time.monotonic()
            for index, delivery in enumerate(deliveries):
                if stop.wait(max(0.0, began + index / rate - time.monotonic())):
                    return
                with self._cond:
                    self.sent.append(delivery)
                self._push(time.monotonic(), delivery)

        threading.Thread(target=run, daemon=True).start()

    def stop_feeding(self) -> None:
        if self._feeding is not None:
            self._feeding.set()

    def pending(self) -> int:
        """Deliveries not acknowledged yet (waiting for their retry or in flight)."""
        with self._cond:
            return len(self._heap) + self._in_flight

    def close(self) -> None:
        self.stop_feeding()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    # sending ----------------------------------------------------------------------------------

    def _next(self) -> Delivery | None:
        with self._cond:
            while not self._closing:
                if self._heap and self._heap[0][0] <= time.monotonic():
                    self._in_flight += 1
                    return heapq.heappop(self._heap)[2]
                wait = self._heap[0][0] - time.monotonic() if self._heap else 1.0
                self._cond.wait(timeout=max(0.01, min(wait, 1.0)))
            return None

    def _send_loop(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while (delivery := self._next()) is not None:
            status = 0
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                conn.request("POST", delivery.path, body=delivery.body,
                             headers={**delivery.headers,
                                      "Content-Length": str(len(delivery.body))})
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            with self._cond:
                self._in_flight -= 1
                self.answers[status] += 1
                if 200 <= status < 300:
                    self.acked.add((delivery.provider, delivery.event_id))
            if not 200 <= status < 300:
                self._push(time.monotonic() + RETRY_SECONDS, delivery)
        if conn is not None:
            conn.close()
