"""The emulated org: its records, sessions, API budget and the write operations.

Every HTTP handler goes through one ``Org`` and holds ``org.lock`` while it reads or
writes, so concurrent requests see the same consistency a single Salesforce
transaction gives. Record writes (create, update, upsert, delete) live here so REST
calls, collections and bulk jobs apply exactly the same rules.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from . import ids, products, rules
from .describe import Field, Schema, SObject
from .errors import SfError
from .faults import FaultBook
from .persistence import Persister, load_state
from .store import Journal, RecordStore
from .values import format_datetime

STATE_FORMAT = 1
CALL_LOG_SIZE = 200_000
"""(method, path) entries kept; a long benchmark run must not grow memory without bound."""


@dataclass
class Credentials:
    """What the token endpoint accepts. The defaults are what ``make run`` uses."""

    client_id: str = "emulator"
    client_secret: str = "emulator"  # noqa: S105 - a local emulator's well-known default
    username: str = "emulator@subsync.local"
    password: str = "emulator"  # noqa: S105 - a local emulator's well-known default
    jwt_public_key: str | None = None
    """PEM; when set, JWT bearer assertions must carry a valid RS256 signature."""


@dataclass
class Outcome:
    """The result of writing one record."""

    id: str | None = None
    created: bool = False
    errors: list[SfError] = field(default_factory=list)
    matches: list[str] = field(default_factory=list)
    """Ids of the records an external id matched, when more than one did (HTTP 300)."""

    @property
    def success(self) -> bool:
        return not self.errors and not self.matches


class Org:
    """State and behaviour of one emulated Salesforce org."""

    def __init__(
        self,
        *,
        schema: Schema,
        credentials: Credentials,
        daily_limit: int = 15000,
        page_size: int = 2000,
        state_path: Path | None = None,
        session_lifetime: float | None = None,
    ):
        self.lock = threading.RLock()
        self.schema = schema
        self.credentials = credentials
        self.daily_limit = daily_limit
        self.page_size = page_size
        self.session_lifetime = session_lifetime
        self.store = RecordStore(schema)
        self.faults = FaultBook()
        self.org_id = ids.make_id(ids.KEY_PREFIXES["Organization"], 1)
        self.user_id = ids.make_id(ids.KEY_PREFIXES["User"], 1)
        self.counters: dict[str, int] = {}
        self.contract_number = 100
        self.api_used = 0
        self.sessions: dict[str, dict] = {}
        self.calls: deque[tuple[str, str]] = deque(maxlen=CALL_LOG_SIZE)
        self.call_total = 0
        self.token_requests = 0
        self.jobs: dict[str, dict] = {}
        self.cursors: dict[str, dict] = {}
        self.base_url = ""
        self.persister: Persister | None = None
        if state_path is not None:
            self._load(state_path)
            self.persister = Persister(state_path, self.snapshot)
        products.seed(self)

    # identity and time -----------------------------------------------------------------

    def new_id(self, kind: str) -> str:
        """A new id; one counter for all objects, so no two records share an id body."""
        counter = self.counters.get("records", 0) + 1
        self.counters["records"] = counter
        # Spread the numbers so ids contain capitals and exercise the checksum.
        return ids.make_id(ids.KEY_PREFIXES[kind], 10_000_000_000 + counter * 104_729)

    def next_contract_number(self) -> str:
        self.contract_number += 1
        return f"{self.contract_number:08d}"

    @staticmethod
    def now() -> str:
        return format_datetime(dt.datetime.now(dt.UTC))

    # sessions and budget ---------------------------------------------------------------

    def open_session(self, username: str) -> tuple[str, float]:
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}"
        issued = time.time()
        self.sessions[token] = {"issued_at": issued, "username": username}
        self.touch()
        return token, issued

    def session_valid(self, token: str | None) -> bool:
        session = self.sessions.get(token or "")
        if session is None:
            return False
        if self.session_lifetime and time.time() - session["issued_at"] > self.session_lifetime:
            del self.sessions[token]
            return False
        return True

    def expire_sessions(self) -> None:
        self.sessions.clear()
        self.touch()

    def usage_header(self) -> str:
        return f"api-usage={self.api_used}/{self.daily_limit}"

    # reads ---------------------------------------------------------------------------------

    def find_existing(self, sobj: SObject, raw_id: object) -> tuple[dict | None, SfError | None]:
        """The live record ``raw_id`` names, or the error a write to it would get."""
        record_id = ids.normalize(raw_id)
        if record_id is None or not ids.has_prefix(record_id, sobj.name):
            return None, SfError(
                "MALFORMED_ID", f"{sobj.label} ID: id value of incorrect type: {raw_id}", ("Id",)
            )
        record = self.store.get(sobj.name, record_id)
        if record is not None:
            return record, None
        if self.store.get(sobj.name, record_id, include_deleted=True) is not None:
            return None, SfError("ENTITY_IS_DELETED", "entity is deleted")
        return None, SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")

    def visible(self, sobj: SObject, record: dict) -> dict:
        """A stored record as the API shows it: every field of the schema, in order."""
        return {name: record.get(name) for name in sobj.fields}

    # writes --------------------------------------------------------------------------------

    def create(self, sobj: SObject, body: dict, journal: Journal, *, csv: bool = False) -> Outcome:
        changes = rules.read_body(self, sobj, body, rules.CREATE, csv=csv)
        return self._write(sobj, None, changes, journal)

    def update(
        self, sobj: SObject, raw_id: object, body: dict, journal: Journal, *, csv: bool = False
    ) -> Outcome:
        existing, error = self.find_existing(sobj, raw_id)
        if error is not None:
            return Outcome(errors=[error])
        changes = rules.read_body(self, sobj, body, rules.UPDATE, csv=csv)
        return self._write(sobj, existing, changes, journal)

    def match_external(self, sobj: SObject, ext_field: Field, value: object) -> list[str]:
        if ext_field.name == "Id":
            record_id = ids.normalize(value)
            return [record_id] if record_id and self.store.get(sobj.name, record_id) else []
        return self.store.find(sobj.name, ext_field, value)

    def upsert(
        self,
        sobj: SObject,
        ext_field: Field,
        value: object,
        body: dict,
        journal: Journal,
        *,
        csv: bool = False,
    ) -> Outcome:
        """Create or update the record whose ``ext_field`` is ``value``.

        ``body`` must not carry the external id itself (the caller checks, because
        collections and bulk jobs *must* carry it); it is added here on create.
        """
        matches = self.match_external(sobj, ext_field, value)
        if len(matches) > 1:
            return Outcome(matches=matches)
        if matches:
            existing = self.store.get(sobj.name, matches[0])
            changes = rules.read_body(self, sobj, body, rules.UPDATE, csv=csv)
            return self._write(sobj, existing, changes, journal)
        if ext_field.name == "Id":
            return Outcome(
                errors=[
                    SfError(
                        "NOT_FOUND",
                        "Provided external ID field does not exist or is not accessible: Id",
                    )
                ]
            )
        changes = rules.read_body(self, sobj, body, rules.CREATE, csv=csv)
        if not changes.errors:
            changes.values[ext_field.name] = value
        return self._write(sobj, None, changes, journal)

    def delete(self, sobj: SObject, raw_id: object, journal: Journal) -> Outcome:
        existing, error = self.find_existing(sobj, raw_id)
        if error is not None:
            return Outcome(errors=[error])
        if sobj.name == "Contract" and existing.get("Status") == "Activated":
            return Outcome(errors=[SfError("DELETE_FAILED", "Cannot delete an activated contract")])
        if sobj.name == "Account":
            contract = next(
                (c for c in self.store.all("Contract") if c.get("AccountId") == existing["Id"]),
                None,
            )
            if contract is not None:
                return Outcome(
                    errors=[
                        SfError(
                            "DELETE_FAILED",
                            f"Your attempt to delete {existing.get('Name')} could not be "
                            "completed because it is associated with the following contracts: "
                            f"{contract.get('ContractNumber')}",
                        )
                    ]
                )
        record = dict(existing)
        now = self.now()
        record.update(IsDeleted=True, LastModifiedDate=now, SystemModstamp=now)
        self.store.put(sobj.name, record, journal)
        products.cascade_delete(self, sobj.name, record, journal)
        self.touch()
        return Outcome(id=existing["Id"])

    def _write(
        self, sobj: SObject, existing: dict | None, changes: rules.Changes, journal: Journal
    ) -> Outcome:
        if changes.errors:
            return Outcome(errors=changes.errors)
        record = dict(existing) if existing else {}
        record.update(changes.values)
        op = rules.UPDATE if existing else rules.CREATE
        errors = rules.validate(self, sobj, existing, record, changes, op) or products.validate(
            self, sobj.name, existing, record, changes.values)
        if errors:
            return Outcome(errors=errors)
        if existing is None:
            record["Id"] = self.new_id(sobj.name)
        rules.derive(self, sobj, existing, record, self.now())
        others = products.derive(self, sobj.name, existing, record, changes.values)
        self.store.put(sobj.name, record, journal)
        for name, other in others:
            self.store.put(name, other, journal)
        self.touch()
        return Outcome(id=record["Id"], created=existing is None)

    # schema changes ------------------------------------------------------------------------

    def drop_field(self, sobject: str, field_name: str) -> None:
        with self.lock:
            self.schema.drop_field(sobject, field_name)
            self.store.reindex()

    def alter_field(self, sobject: str, field_name: str, **attributes) -> None:
        with self.lock:
            self.schema.alter_field(sobject, field_name, **attributes)
            self.store.reindex()

    # persistence ---------------------------------------------------------------------------

    def log_call(self, method: str, path: str) -> None:
        with self.lock:
            self.calls.append((method, path))
            self.call_total += 1

    def touch(self) -> None:
        if self.persister is not None:
            self.persister.mark_dirty()

    def reset(self) -> None:
        """Forget all records, jobs, cursors, usage, faults and the call log (keep sessions)."""
        with self.lock:
            self.store.clear()
            self.jobs.clear()
            self.cursors.clear()
            self.faults.clear()
            self.calls.clear()
            self.call_total = 0
            self.api_used = 0
            self.token_requests = 0
            products.seed(self)
            self.touch()

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "format": STATE_FORMAT,
                "records": self.store.snapshot(),
                "counters": dict(self.counters),
                "contract_number": self.contract_number,
                "api_used": self.api_used,
                "sessions": dict(self.sessions),
            }

    def _load(self, path: Path) -> None:
        data = load_state(path)
        if not data:
            return
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"{path}: unsupported state format {data.get('format')!r}")
        self.store.load(data.get("records", {}))
        self.counters = {k: int(v) for k, v in data.get("counters", {}).items()}
        self.contract_number = int(data.get("contract_number", self.contract_number))
        self.api_used = int(data.get("api_used", 0))
        self.sessions = dict(data.get("sessions", {}))
