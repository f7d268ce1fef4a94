"""The HTTPS server and ``EmulatorServer``, the handle tests and the CLI use.

``http.server.ThreadingHTTPServer`` serves each connection in its own thread; the TLS
handshake happens in that thread too, so one slow client cannot stall the accept loop.
Connections are HTTP/1.1 keep-alive (``requests.Session`` reuses them) and are closed
when the server stops.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import weakref
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import control, oauth, rest
from .certs import prepare
from .describe import DEFAULT_CURRENCIES, Schema
from .errors import RequestFailed
from .faults import Fault, make_fault
from .messages import Reply, Request
from .org import Credentials, Org

_IDLE_TIMEOUT = 30.0
_MAX_BODY = 150 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SalesforceEmulator/1.0"
    timeout = _IDLE_TIMEOUT
    # Headers and body go out in separate writes; without this, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every response.
    disable_nagle_algorithm = True
    server: _TLSServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def _read_body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(
                Reply(
                    400, [{"errorCode": "JSON_PARSER_ERROR", "message": "unreadable request body"}]
                )
            )
            return
        request = Request.build(self.command, self.path, dict(self.headers.items()), body)
        try:
            reply = self.server.dispatch(request)
        except RequestFailed as failure:
            reply = Reply(failure.status, failure.body())
        except Exception as exc:  # a bug in the emulator must not look like a network error
            print(
                f"sf-emulator: internal error on {self.command} {self.path}: {exc!r}",
                file=sys.stderr,
            )
            reply = Reply(
                500,
                [
                    {
                        "errorCode": "UNKNOWN_EXCEPTION",
                        "message": f"emulator internal error: {exc!r}",
                    }
                ],
            )
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        payload = reply.encoded()
        self.send_response(reply.status)
        if reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:
        if self.server.log_requests:
            sys.stderr.write(f"sf-emulator: {self.address_string()} {format % args}\n")


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, context: ssl.SSLContext, org: Org, log_requests: bool):
        self.ssl_context = context
        self.org = org
        self.log_requests = log_requests
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def dispatch(self, request: Request) -> Reply:
        path = request.path
        if path == "/services/data" or path.startswith("/services/data/"):
            return rest.handle(self.org, request)
        if path.rstrip("/") == "/services/oauth2/token":
            return oauth.handle(self.org, request)
        if path == "/_emulator" or path.startswith("/_emulator/"):
            return control.handle(self.org, request)
        return Reply(
            404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
        )

    def finish_request(self, request, client_address) -> None:
        """Handshake in the connection's own thread, then serve it."""
        request.settimeout(_IDLE_TIMEOUT)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self._connections_lock:
            self._connections.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with self._connections_lock:
                self._connections.discard(tls)
            tls.close()

    def handle_error(self, request, client_address) -> None:
        if self.log_requests:
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class EmulatorServer:
    """A local Salesforce org over HTTPS, for tests, the benchmark and ``make run``.

    Use as a context manager (``with EmulatorServer() as emu:``) or call ``start()`` and
    ``stop()``. ``emu.url`` is the instance URL, ``emu.ca_path`` the CA file to trust.
    ``stop()`` then ``start()`` simulates an outage: the org (records, sessions) and the
    URL stay the same.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: str | Path | None = None,
        cert_dir: str | Path | None = None,
        daily_limit: int = 15000,
        multi_currency: bool = False,
        currencies: tuple[str, ...] = DEFAULT_CURRENCIES,
        corporate_currency: str = "USD",
        revenue_schedules: bool = True,
        page_size: int = 2000,
        credentials: Credentials | None = None,
        session_lifetime: float | None = None,
        drop_fields: tuple[str, ...] = (),
        alter_fields: dict[str, dict] | None = None,
        contract_status_default: str | None = "Draft",
        log_requests: bool = False,
    ):
        schema = Schema.standard(
            multi_currency=multi_currency,
            currencies=tuple(currencies),
            corporate_currency=corporate_currency,
            revenue_schedules=revenue_schedules,
        )
        for target in drop_fields:
            sobject, _, field_name = target.partition(".")
            schema.drop_field(sobject, field_name)
        for target, attributes in (alter_fields or {}).items():
            sobject, _, field_name = target.partition(".")
            schema.alter_field(sobject, field_name, **attributes)
        if contract_status_default != "Draft":
            # An org whose Status picklist defaults to another value, or (None) to nothing:
            # then Status is required on insert, as on a real org without a default.
            schema.alter_field("Contract", "Status", default=contract_status_default,
                               defaulted_on_create=contract_status_default is not None)
        self.org = Org(
            schema=schema,
            credentials=credentials or Credentials(),
            daily_limit=daily_limit,
            page_size=page_size,
            state_path=Path(state_path) if state_path else None,
            session_lifetime=session_lifetime,
        )
        self.host = host
        self._requested_port = port
        self._cert_dir = Path(cert_dir) if cert_dir else None
        self._log_requests = log_requests
        self._server: _TLSServer | None = None
        self._thread: threading.Thread | None = None
        self.ca_path: Path | None = None
        self.port: int | None = None

    # life cycle --------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        if self._server is not None:
            return self
        if self._cert_dir is None:
            self._cert_dir = Path(tempfile.mkdtemp(prefix="sf-emulator-"))
            # Kept across stop()/start() so clients keep trusting the same CA file.
            weakref.finalize(self, shutil.rmtree, self._cert_dir, True)
        certificates = prepare(self._cert_dir)
        self.ca_path = certificates.ca_path
        self._server = _TLSServer(
            (self.host, self._requested_port), certificates.context, self.org, self._log_requests
        )
        self.port = self._server.server_address[1]
        self._requested_port = self.port  # a restart comes back on the same URL
        self.org.base_url = self.url
        if self.org.persister is not None:
            self.org.persister = self.org.persister.fresh()
            self.org.persister.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sf-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.org.persister is not None:
            self.org.persister.stop()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/services/oauth2/token"

    # records -----------------------------------------------------------------------------

    def records(self, sobject: str, *, include_deleted: bool = False) -> list[dict]:
        """Copies of the stored records of ``sobject``, in creation order."""
        with self.org.lock:
            name = self._name(sobject)
            return [dict(r) for r in self.org.store.all(name, include_deleted=include_deleted)]

    def record(self, sobject: str, record_id: str) -> dict | None:
        from .ids import normalize

        with self.org.lock:
            found = self.org.store.get(self._name(sobject), normalize(record_id))
            return dict(found) if found else None

    def find(self, sobject: str, **equals) -> list[dict]:
        """Records whose fields equal all of ``equals`` exactly (no case folding)."""
        return [r for r in self.records(sobject) if all(r.get(k) == v for k, v in equals.items())]

    def count(self, sobject: str) -> int:
        with self.org.lock:
            return self.org.store.count(self._name(sobject))

    def _name(self, sobject: str) -> str:
        found = self.org.schema.get(sobject)
        if found is None:
            raise KeyError(f"unknown sObject {sobject}")
        return found.name

    # calls and budget ----------------------------------------------------------------------

    @property
    def calls(self) -> list[tuple[str, str]]:
        """(method, path) of every REST call received, refused ones included.

        Only the latest 200,000 are kept; ``call_count`` is the total.
        """
        with self.org.lock:
            return list(self.org.calls)

    @property
    def call_count(self) -> int:
        with self.org.lock:
            return self.org.call_total

    def clear_calls(self) -> None:
        with self.org.lock:
            self.org.calls.clear()
            self.org.call_total = 0

    @property
    def api_usage(self) -> int:
        """Calls counted against the daily limit since the last reset."""
        return self.org.api_used

    @property
    def daily_limit(self) -> int:
        return self.org.daily_limit

    def set_daily_limit(self, limit: int) -> None:
        with self.org.lock:
            self.org.daily_limit = int(limit)

    def reset_usage(self) -> None:
        with self.org.lock:
            self.org.api_used = 0
            self.org.touch()

    # sessions, faults, schema ----------------------------------------------------------------

    def issue_token(self) -> str:
        """A valid access token, without going through the token endpoint."""
        with self.org.lock:
            token, _ = self.org.open_session(self.org.credentials.username)
            return token

    def expire_sessions(self) -> None:
        with self.org.lock:
            self.org.expire_sessions()

    def inject(self, kind: str, count: int = 1, **options) -> Fault:
        """Queue a fault for the next ``count`` matching REST calls.

        ``options``: ``seconds`` (latency), ``status`` (server_error: 500/502/503, default
        503), ``method`` and ``path`` (a regex searched in the URL path) to narrow the calls,
        ``records`` (unable_to_lock_row: fail only the first N records of a collection or
        bulk job; default all).
        """
        fault = make_fault(kind, count, **options)
        self.org.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        self.org.faults.clear()

    def pending_faults(self) -> list[dict]:
        return self.org.faults.pending()

    def drop_field(self, sobject: str, field_name: str) -> None:
        """Make the org lack a field (a broken org for preflight tests)."""
        self.org.drop_field(sobject, field_name)

    def alter_field(self, sobject: str, field_name: str, **attributes) -> None:
        """Change a field's describe attributes, e.g. ``unique=False, external_id=False``."""
        self.org.alter_field(sobject, field_name, **attributes)

    def reset(self) -> None:
        """Forget records, bulk jobs, usage, faults and the call log; sessions stay valid."""
        self.org.reset()

    def summary(self) -> dict:
        return control.summary(self.org)

    def flush(self) -> None:
        """Write the state file now (it is otherwise written shortly after each change)."""
        if self.org.persister is not None:
            self.org.persister.flush()
