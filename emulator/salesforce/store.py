"""Records of the emulated org, with the indexes and undo log Salesforce behaviour needs.

Records are plain dicts keyed by canonical field name and are never mutated in place: a
write stores a new dict. That lets a persistence snapshot copy only the tables (not every
record) while holding the lock, and lets an all-or-none collection undo its writes from a
journal of previous versions instead of copying the whole org.

External-id and unique fields are indexed so that upserting 200 records against an org
of 100,000 stays fast; the index honours each field's case sensitivity because that is
what decides whether two values collide in a real org.
"""

from __future__ import annotations

from collections.abc import Iterable

from .describe import Field, Schema

Record = dict
Journal = list  # of (sobject, record id, previous record or None)


def index_key(field: Field, value: object) -> object:
    if isinstance(value, str) and not field.case_sensitive:
        return value.casefold()
    return value


class RecordStore:
    """Every record by object type and id, including soft-deleted ones (``IsDeleted``)."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self.tables: dict[str, dict[str, Record]] = {name: {} for name in schema.objects}
        self._indexes: dict[tuple[str, str], dict[object, set[str]]] = {}
        self.reindex()

    # reads ---------------------------------------------------------------------------

    def get(self, sobject: str, record_id: str | None, *, include_deleted: bool = False):
        record = self.tables[sobject].get(record_id) if record_id else None
        if record is None or (record.get("IsDeleted") and not include_deleted):
            return None
        return record

    def all(self, sobject: str, *, include_deleted: bool = False) -> list[Record]:
        """Records in id order, which is creation order (ids grow monotonically)."""
        rows = self.tables[sobject].values()
        if not include_deleted:
            rows = [r for r in rows if not r.get("IsDeleted")]
        return sorted(rows, key=lambda r: r["Id"])

    def count(self, sobject: str) -> int:
        return sum(1 for r in self.tables[sobject].values() if not r.get("IsDeleted"))

    def find(self, sobject: str, field: Field, value: object) -> list[str]:
        """Ids of live records whose ``field`` equals ``value`` (per the field's case rule)."""
        if value is None:
            return []
        key = index_key(field, value)
        index = self._indexes.get((sobject, field.name))
        if index is not None:
            return sorted(index.get(key, ()))
        return [
            r["Id"]
            for r in self.all(sobject)
            if r.get(field.name) is not None and index_key(field, r[field.name]) == key
        ]

    # writes --------------------------------------------------------------------------

    def put(self, sobject: str, record: Record, journal: Journal | None = None) -> None:
        table = self.tables[sobject]
        previous = table.get(record["Id"])
        if journal is not None:
            journal.append((sobject, record["Id"], previous))
        self._unindex(sobject, previous)
        table[record["Id"]] = record
        self._index(sobject, record)

    def remove(self, sobject: str, record_id: str) -> None:
        """Forget a record entirely (used only to undo a create)."""
        previous = self.tables[sobject].pop(record_id, None)
        self._unindex(sobject, previous)

    def rollback(self, journal: Journal) -> None:
        """Undo the writes recorded in ``journal``, newest first."""
        for sobject, record_id, previous in reversed(journal):
            if previous is None:
                self.remove(sobject, record_id)
            else:
                self.put(sobject, previous)
        journal.clear()

    def clear(self) -> None:
        for table in self.tables.values():
            table.clear()
        self.reindex()

    # indexes -------------------------------------------------------------------------

    def reindex(self) -> None:
        """Rebuild every index; needed after the schema changes which fields are unique."""
        self._indexes = {}
        for name, obj in self.schema.objects.items():
            self.tables.setdefault(name, {})
            for field in obj.indexed_fields():
                self._indexes[(name, field.name)] = {}
            for record in self.tables[name].values():
                self._index(name, record)

    def _index(self, sobject: str, record: Record | None) -> None:
        if record is None or record.get("IsDeleted"):
            return
        for (obj, field_name), index in self._indexed(sobject):
            value = record.get(field_name)
            if value is not None:
                field = self.schema.objects[obj].fields[field_name]
                index.setdefault(index_key(field, value), set()).add(record["Id"])

    def _unindex(self, sobject: str, record: Record | None) -> None:
        if record is None:
            return
        for (obj, field_name), index in self._indexed(sobject):
            value = record.get(field_name)
            if value is None:
                continue
            field = self.schema.objects[obj].fields[field_name]
            ids = index.get(index_key(field, value))
            if ids is not None:
                ids.discard(record["Id"])
                if not ids:
                    del index[index_key(field, value)]

    def _indexed(self, sobject: str) -> Iterable[tuple[tuple[str, str], dict]]:
        return [(key, index) for key, index in self._indexes.items() if key[0] == sobject]

    # persistence ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[str, Record]]:
        """Shallow copies of the tables; safe to serialise outside the lock."""
        return {name: dict(table) for name, table in self.tables.items()}

    def load(self, tables: dict[str, dict[str, Record]]) -> None:
        for name, table in tables.items():
            if name in self.tables:
                self.tables[name] = dict(table)
        self.reindex()
