"""Command line: run the emulator until Ctrl-C or SIGTERM.

    python -m emulator.salesforce --port 8443 --state var/sf-emulator/state.json \
        --cert-dir var/sf-emulator --daily-limit 15000 [--multi-currency]

When it is ready it prints one line of JSON (``{"url": ..., "ca_path": ..., ...}``) and
writes the same to ``<cert-dir>/ready.json``, which is removed again on a clean stop, so
a supervisor can wait for the file instead of parsing output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path

from .org import Credentials
from .persistence import save_state
from .server import EmulatorServer


def _field_list(values: list[str]) -> tuple[str, ...]:
    for value in values:
        if "." not in value:
            raise argparse.ArgumentTypeError(f"expected Object.Field, got {value}")
    return tuple(values)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator.salesforce",
        description="Run a local Salesforce org over HTTPS.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="JSON file to keep records in (default: memory only)",
    )
    parser.add_argument(
        "--cert-dir",
        type=Path,
        default=Path("var/sf-emulator"),
        help="where the CA (ca.pem) and ready.json are written",
    )
    parser.add_argument("--daily-limit", type=int, default=15000)
    parser.add_argument("--multi-currency", action="store_true")
    parser.add_argument("--no-revenue-schedules", action="store_true",
                        help="an org where revenue schedules were never enabled")
    parser.add_argument(
        "--page-size", type=int, default=2000, help="records per SOQL page before nextRecordsUrl"
    )
    parser.add_argument("--client-id", default="emulator")
    parser.add_argument("--client-secret", default="emulator")
    parser.add_argument("--username", default="emulator@subsync.local")
    parser.add_argument("--password", default="emulator")
    parser.add_argument(
        "--jwt-public-key",
        type=Path,
        default=None,
        help="PEM public key; JWT assertions must then be signed with it",
    )
    parser.add_argument(
        "--drop-field",
        action="append",
        default=[],
        metavar="OBJECT.FIELD",
        help="broken org: the field does not exist (repeatable)",
    )
    parser.add_argument(
        "--non-unique",
        action="append",
        default=[],
        metavar="OBJECT.FIELD",
        help="broken org: the field is not unique (repeatable)",
    )
    parser.add_argument(
        "--not-external-id",
        action="append",
        default=[],
        metavar="OBJECT.FIELD",
        help="broken org: the field is not an external id (repeatable)",
    )
    status_default = parser.add_mutually_exclusive_group()
    status_default.add_argument(
        "--require-contract-status",
        dest="contract_status_default",
        action="store_const",
        const=None,
        default="Draft",
        help="the Contract Status picklist has no default: Status is required on insert",
    )
    status_default.add_argument(
        "--contract-status-default",
        dest="contract_status_default",
        metavar="VALUE",
        help="the Contract Status picklist's default (Draft unless set)",
    )
    parser.add_argument("--log-requests", action="store_true")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> EmulatorServer:
    alter: dict[str, dict] = {}
    for target in _field_list(args.non_unique):
        alter.setdefault(target, {})["unique"] = False
    for target in _field_list(args.not_external_id):
        alter.setdefault(target, {}).update(external_id=False, unique=False)
    public_key = args.jwt_public_key.read_text() if args.jwt_public_key else None
    return EmulatorServer(
        host=args.host,
        port=args.port,
        state_path=args.state,
        cert_dir=args.cert_dir,
        daily_limit=args.daily_limit,
        multi_currency=args.multi_currency,
        revenue_schedules=not args.no_revenue_schedules,
        page_size=args.page_size,
        credentials=Credentials(
            client_id=args.client_id,
            client_secret=args.client_secret,
            username=args.username,
            password=args.password,
            jwt_public_key=public_key,
        ),
        drop_fields=_field_list(args.drop_field),
        alter_fields=alter,
        contract_status_default=args.contract_status_default,
        log_requests=args.log_requests,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    emulator = build(args)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        emulator.start()
    except OSError as exc:
        print(f"sf-emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    ready = {
        "url": emulator.url,
        "ca_path": str(Path(emulator.ca_path).resolve()),
        "port": emulator.port,
        "pid": os.getpid(),
        "token_url": emulator.token_url,
        "state": str(args.state.resolve()) if args.state else None,
    }
    ready_path = args.cert_dir / "ready.json"
    save_state(ready_path, ready)
    print(json.dumps(ready), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        with contextlib.suppress(FileNotFoundError):
            ready_path.unlink()
    print("sf-emulator: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
