"""A SOQL subset: enough for reconciliation and for checking what sync wrote.

Supported: ``SELECT f1, f2, Account.f3 | COUNT() | COUNT(f) FROM Account|Contract
[WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]`` with
conditions ``=, !=, <>, <, <=, >, >=, IN (...), NOT IN (...), LIKE`` combined with AND, OR,
NOT and parentheses; literals are quoted strings, numbers, null, true/false, dates,
datetimes and the date keywords TODAY, YESTERDAY, TOMORROW, THIS_MONTH, LAST_MONTH,
NEXT_MONTH, LAST_N_DAYS:n, NEXT_N_DAYS:n.

Like Salesforce, field and object names are case-insensitive, text comparisons ignore
case, a date field must be compared with an unquoted date, and a misspelt field or a
quoted number is an error rather than an empty result, so a query that works here works
in a real org.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import ids
from .describe import Field, SObject
from .errors import RequestFailed, SfError
from .values import BadValue, add_months, parse_date, parse_datetime

if TYPE_CHECKING:
    from .org import Org

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),:])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_DATE_KEYWORDS = {
    "TODAY",
    "YESTERDAY",
    "TOMORROW",
    "THIS_MONTH",
    "LAST_MONTH",
    "NEXT_MONTH",
    "LAST_N_DAYS",
    "NEXT_N_DAYS",
}
_UNSUPPORTED = {"GROUP", "HAVING", "TYPEOF", "WITH", "FOR", "USING", "INCLUDES", "EXCLUDES"}
_TEXT_TYPES = {"string", "textarea", "picklist", "phone", "url", "email", "id", "reference"}
_NUMBER_TYPES = {"double", "currency", "percent", "int"}
_TYPE_NAMES = {"datetime": "dateTime", "currency": "double", "percent": "double"}


@dataclass
class Token:
    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass
class Path:
    """A field reference, possibly through one relationship: ``Account.Name``."""

    text: str
    pos: int
    field: Field | None = None
    relation: Field | None = None
    parent: SObject | None = None


@dataclass
class Literal:
    kind: str  # string, number, null, bool, date, datetime, range
    value: object = None


@dataclass
class Comparison:
    path: Path
    op: str
    literal: Literal


@dataclass
class Membership:
    path: Path
    literals: list[Literal]
    negated: bool


@dataclass
class Like:
    path: Path
    pattern: re.Pattern


@dataclass
class BoolOp:
    op: str  # AND, OR, NOT
    parts: list


@dataclass
class Order:
    path: Path
    descending: bool
    nulls_last: bool


@dataclass
class Query:
    sobject: SObject
    paths: list[Path] = field(default_factory=list)
    count_only: bool = False
    count_field: Path | None = None
    count_alias: str = "expr0"
    counted_first: bool = False
    where: object = None
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


@dataclass
class Result:
    """What a query found: output records (already shaped) and the total."""

    records: list[dict]
    total: int


def _malformed(message: str) -> RequestFailed:
    return RequestFailed(400, SfError("MALFORMED_QUERY", message))


class _Parser:
    def __init__(self, org: Org, text: str):
        self.org = org
        self.text = text
        self.tokens = self._tokenize(text)
        self.index = 0

    # tokens ----------------------------------------------------------------------------

    def _tokenize(self, text: str) -> list[Token]:
        tokens, pos = [], 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                raise self.error(pos, f"unexpected token: '{text[pos : pos + 10].split()[0]}'")
            if match.lastgroup != "ws":
                tokens.append(Token(match.lastgroup, match.group(), pos))
            pos = match.end()
        return tokens

    def error(self, pos: int, message: str, code: str = "MALFORMED_QUERY") -> RequestFailed:
        """Salesforce's error text: the query, a caret under the problem, the reason."""
        column = pos + 1
        caret = " " * pos + "^"
        return RequestFailed(
            400,
            SfError(code, f"\n{self.text}\n{caret}\nERROR at Row:1:Column:{column}\n{message}"),
        )

    def peek(self, offset: int = 0) -> Token | None:
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise _malformed("unexpected end of query")
        self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "ident" and token.upper in words

    def expect_keyword(self, word: str) -> Token:
        token = self.next()
        if token.kind != "ident" or token.upper != word:
            raise self.error(token.pos, f"unexpected token: '{token.text}'")
        return token

    def expect(self, text: str) -> Token:
        token = self.next()
        if token.text != text:
            raise self.error(token.pos, f"unexpected token: '{token.text}'")
        return token

    # grammar ---------------------------------------------------------------------------

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        select_start = self.index
        while not self.at_keyword("FROM"):
            if self.peek() is None:
                raise _malformed("unexpected end of query: expecting FROM")
            self.next()
        select_tokens = self.tokens[select_start : self.index]
        self.expect_keyword("FROM")
        name = self.next()
        sobj = self.org.schema.get(name.text) if name.kind == "ident" else None
        if sobj is None:
            raise self.error(
                name.pos,
                f"sObject type '{name.text}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
                "INVALID_TYPE",
            )
        query = Query(sobject=sobj)
        self._select(query, select_tokens)
        if self.at_keyword("WHERE"):
            self.next()
            query.where = self._or(sobj)
        if self.at_keyword("ORDER"):
            self.next()
            self.expect_keyword("BY")
            query.order = self._order(sobj)
        if self.at_keyword("LIMIT"):
            self.next()
            query.limit = self._integer()
        if self.at_keyword("OFFSET"):
            self.next()
            query.offset = self._integer()
            if query.offset > 2000:
                raise _malformed("maximum SOQL offset allowed is 2000")
        token = self.peek()
        if token is not None:
            if token.kind == "ident" and token.upper in _UNSUPPORTED:
                raise self.error(token.pos, f"{token.upper} is not supported by the emulator")
            raise self.error(token.pos, f"unexpected token: '{token.text}'")
        return query

    def _integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise self.error(token.pos, f"unexpected token: '{token.text}'")
        return int(token.text)

    def _select(self, query: Query, tokens: list[Token]) -> None:
        if not tokens:
            raise _malformed("unexpected token: 'FROM'")
        items, current = [], []
        depth = 0
        for token in tokens:
            depth += token.text == "("
            depth -= token.text == ")"
            if token.text == "," and depth == 0:
                items.append(current)
                current = []
            else:
                current.append(token)
        items.append(current)
        seen = set()
        for position, item in enumerate(items):
            if not item:
                raise _malformed("unexpected token: ','")
            if item[0].kind == "ident" and item[0].upper == "COUNT" and len(item) >= 3:
                self._count(query, item, position, len(items))
                continue
            if len(item) != 1 or item[0].kind != "ident":
                raise self.error(item[0].pos, f"unexpected token: '{item[0].text}'")
            path = self._path(query.sobject, item[0])
            key = path.text.lower()
            if key in seen:
                raise self.error(item[0].pos, f"duplicate field selected: {path.text}")
            seen.add(key)
            query.paths.append(path)
        if query.count_only and query.paths:
            raise _malformed("COUNT() cannot be combined with other fields")
        if query.count_field and query.paths:
            raise _malformed("Field must be grouped or aggregated: " + query.paths[0].text)

    def _count(self, query: Query, item: list[Token], position: int, total: int) -> None:
        if item[1].text != "(":
            raise self.error(item[1].pos, f"unexpected token: '{item[1].text}'")
        if item[2].text == ")":
            if len(item) != 3 or total != 1:
                raise _malformed("COUNT() must be the only element in the SELECT list")
            query.count_only = True
            return
        if len(item) < 4 or item[3].text != ")" or item[2].kind != "ident":
            raise self.error(item[2].pos, f"unexpected token: '{item[2].text}'")
        query.count_field = self._path(query.sobject, item[2])
        query.count_alias = item[4].text if len(item) == 5 else f"expr{position}"

    def _path(self, sobj: SObject, token: Token) -> Path:
        parts = token.text.split(".")
        if len(parts) > 2:
            raise self.error(
                token.pos,
                "relationship paths deeper than one level are not supported by the emulator",
            )
        if len(parts) == 2 and parts[0].lower() == sobj.name.lower():
            parts = parts[1:]
        if len(parts) == 1:
            found = sobj.field(parts[0])
            if found is None:
                raise self.no_such_column(token, parts[0], sobj.name)
            return Path(found.name, token.pos, field=found)
        relation = sobj.relationship(parts[0])
        parent = None
        if relation is not None and relation.reference_to:
            parent = self.org.schema.get(relation.reference_to[0])
        if relation is None or parent is None:
            raise self.error(
                token.pos,
                f"Didn't understand relationship '{parts[0]}' in field path. If you are "
                "attempting to use a custom relationship, be sure to append the '__r' after "
                "the custom relationship name. Please reference your WSDL or the describe "
                "call for the appropriate names.",
                "INVALID_FIELD",
            )
        found = parent.field(parts[1])
        if found is None:
            raise self.no_such_column(token, parts[1], parent.name)
        return Path(
            f"{relation.relationship_name}.{found.name}",
            token.pos,
            field=found,
            relation=relation,
            parent=parent,
        )

    def no_such_column(self, token: Token, name: str, sobject: str) -> RequestFailed:
        return self.error(
            token.pos,
            f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a "
            "custom field, be sure to append the '__c' after the custom field name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
            "INVALID_FIELD",
        )

    def _or(self, sobj: SObject):
        parts = [self._and(sobj)]
        while self.at_keyword("OR"):
            self.next()
            parts.append(self._and(sobj))
        return parts[0] if len(parts) == 1 else BoolOp("OR", parts)

    def _and(self, sobj: SObject):
        parts = [self._not(sobj)]
        while self.at_keyword("AND"):
            self.next()
            parts.append(self._not(sobj))
        return parts[0] if len(parts) == 1 else BoolOp("AND", parts)

    def _not(self, sobj: SObject):
        if self.at_keyword("NOT"):
            self.next()
            return BoolOp("NOT", [self._not(sobj)])
        token = self.peek()
        if token is not None and token.text == "(":
            self.next()
            inner = self._or(sobj)
            self.expect(")")
            return inner
        return self._condition(sobj)

    def _usable_path(self, sobj: SObject, token, verb: str):
        """A field path that may be filtered or sorted: Salesforce refuses long text areas."""
        path = self._path(sobj, token)
        if path.field.type == "textarea":
            raise self.error(
                token.pos,
                f"field '{path.field.name}' can not be {verb} in a query call",
                "INVALID_FIELD",
            )
        return path

    def _condition(self, sobj: SObject):
        token = self.next()
        if token.kind != "ident":
            raise self.error(token.pos, f"unexpected token: '{token.text}'")
        path = self._usable_path(sobj, token, "filtered")
        if self.at_keyword("NOT"):
            self.next()
            self.expect_keyword("IN")
            return Membership(path, self._list(path), negated=True)
        if self.at_keyword("IN"):
            self.next()
            return Membership(path, self._list(path), negated=False)
        if self.at_keyword("LIKE"):
            self.next()
            literal_token = self.peek()
            literal = self._literal(path)
            if literal.kind != "string" or path.field.type not in _TEXT_TYPES:
                raise self.error(literal_token.pos, "invalid operator on this field type: LIKE")
            return Like(path, _like_pattern(literal.value))
        op = self.next()
        if op.kind != "op":
            raise self.error(op.pos, f"unexpected token: '{op.text}'")
        literal = self._literal(path)
        if literal.kind in ("null", "bool") and op.text not in ("=", "!=", "<>"):
            raise self.error(op.pos, f"invalid operator for {literal.kind}: {op.text}")
        return Comparison(path, "!=" if op.text == "<>" else op.text, literal)

    def _list(self, path: Path) -> list[Literal]:
        self.expect("(")
        literals = [self._literal(path)]
        while self.peek() is not None and self.peek().text == ",":
            self.next()
            literals.append(self._literal(path))
        self.expect(")")
        return literals

    def _literal(self, path: Path) -> Literal:
        token = self.next()
        kind = path.field.type
        type_name = _TYPE_NAMES.get(kind, kind)
        if token.kind == "ident" and token.upper == "NULL":
            return Literal("null")
        if token.kind == "string":
            if kind not in _TEXT_TYPES:
                raise self.error(
                    token.pos,
                    f"value of filter criterion for field '{path.field.name}' must be of type "
                    f"{type_name} and should not be enclosed in quotes",
                    "INVALID_FIELD",
                )
            return Literal("string", _unescape(token.text[1:-1]))
        if kind in _TEXT_TYPES:
            raise self.error(
                token.pos,
                f"value of filter criterion for field '{path.field.name}' must be of type "
                f"{type_name} and should be enclosed in quotes",
                "INVALID_FIELD",
            )
        if token.kind == "ident" and token.upper in ("TRUE", "FALSE") and kind == "boolean":
            return Literal("bool", token.upper == "TRUE")
        if token.kind == "number" and kind in _NUMBER_TYPES:
            return Literal("number", float(token.text))
        if token.kind == "date" and kind == "date":
            try:
                return Literal("date", parse_date(token.text))
            except BadValue:
                raise self.error(token.pos, f"invalid date: {token.text}") from None
        if token.kind == "datetime" and kind == "datetime":
            try:
                return Literal("datetime", parse_datetime(token.text))
            except BadValue:
                raise self.error(token.pos, f"invalid dateTime: {token.text}") from None
        if token.kind == "ident" and token.upper in _DATE_KEYWORDS and kind in ("date", "datetime"):
            return Literal("range", self._date_range(token))
        raise self.error(
            token.pos,
            f"value of filter criterion for field '{path.field.name}' must be of type "
            f"{type_name} and should not be enclosed in quotes",
            "INVALID_FIELD",
        )

    def _date_range(self, token: Token) -> tuple[dt.date, dt.date]:
        today = dt.datetime.now(dt.UTC).date()
        day = dt.timedelta(days=1)
        word = token.upper
        if word in ("LAST_N_DAYS", "NEXT_N_DAYS"):
            self.expect(":")
            n = self._integer()
            if word == "LAST_N_DAYS":
                return today - n * day, today + day
            return today + day, today + (n + 1) * day
        first = today.replace(day=1)
        ranges = {
            "TODAY": (today, today + day),
            "YESTERDAY": (today - day, today),
            "TOMORROW": (today + day, today + 2 * day),
            "THIS_MONTH": (first, add_months(first, 1)),
            "LAST_MONTH": (add_months(first, -1), first),
            "NEXT_MONTH": (add_months(first, 1), add_months(first, 2)),
        }
        return ranges[word]

    def _order(self, sobj: SObject) -> list[Order]:
        orders = []
        while True:
            token = self.next()
            if token.kind != "ident":
                raise self.error(token.pos, f"unexpected token: '{token.text}'")
            path = self._usable_path(sobj, token, "sorted")
            descending = False
            if self.at_keyword("ASC", "DESC"):
                descending = self.next().upper == "DESC"
            nulls_last = descending
            if self.at_keyword("NULLS"):
                self.next()
                which = self.next()
                if which.upper not in ("FIRST", "LAST"):
                    raise self.error(which.pos, f"unexpected token: '{which.text}'")
                nulls_last = which.upper == "LAST"
            orders.append(Order(path, descending, nulls_last))
            if self.peek() is None or self.peek().text != ",":
                return orders
            self.next()


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _like_pattern(pattern: str) -> re.Pattern:
    regex, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        regex.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("^" + "".join(regex) + "$", re.IGNORECASE | re.DOTALL)


# evaluation ------------------------------------------------------------------------------


def _value(org: Org, record: dict, path: Path):
    if path.relation is None:
        return record.get(path.field.name)
    parent = org.store.get(path.parent.name, record.get(path.relation.name))
    return parent.get(path.field.name) if parent else None


def _comparable(field_obj: Field, value):
    """A stored value turned into something Python compares the way SOQL does."""
    if value is None:
        return None
    kind = field_obj.type
    if kind in ("id", "reference"):
        return ids.normalize(value) or str(value)
    if kind in _TEXT_TYPES:
        return str(value).casefold()
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "datetime":
        return parse_datetime(value)
    if kind in _NUMBER_TYPES:
        return float(value)
    return value


def _literal_value(field_obj: Field, literal: Literal):
    if literal.kind == "string":
        if field_obj.type in ("id", "reference"):
            return ids.normalize(literal.value) or literal.value
        return literal.value.casefold()
    return literal.value


def _compare(field_obj: Field, left, op: str, literal: Literal) -> bool:
    if literal.kind == "null":
        return (left is None) == (op == "=")
    if left is None:
        return op == "!="
    if literal.kind == "range":
        start, end = literal.value
        day = left.astimezone(dt.UTC).date() if isinstance(left, dt.datetime) else left
        return {
            "=": start <= day < end,
            "!=": not start <= day < end,
            "<": day < start,
            "<=": day < end,
            ">": day >= end,
            ">=": day >= start,
        }[op]
    right = _literal_value(field_obj, literal)
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]


def _matches(org: Org, record: dict, node) -> bool:
    if node is None:
        return True
    if isinstance(node, BoolOp):
        if node.op == "AND":
            return all(_matches(org, record, part) for part in node.parts)
        if node.op == "OR":
            return any(_matches(org, record, part) for part in node.parts)
        return not _matches(org, record, node.parts[0])
    value = _comparable(node.path.field, _value(org, record, node.path))
    if isinstance(node, Comparison):
        return _compare(node.path.field, value, node.op, node.literal)
    if isinstance(node, Membership):
        found = any(_compare(node.path.field, value, "=", lit) for lit in node.literals)
        return found != node.negated
    if value is None:
        return False
    return node.pattern.match(str(_value(org, record, node.path))) is not None


def _sort(org: Org, rows: list[dict], orders: list[Order]) -> list[dict]:
    """Stable sorts from the last key to the first; nulls go where each key says."""
    for order in reversed(orders):
        keyed = [(_comparable(order.path.field, _value(org, r, order.path)), r) for r in rows]
        present = [pair for pair in keyed if pair[0] is not None]
        missing = [r for value, r in keyed if value is None]
        present.sort(key=lambda pair: pair[0], reverse=order.descending)
        ordered = [r for _, r in present]
        rows = ordered + missing if order.nulls_last else missing + ordered
    return rows


def _shape(org: Org, query: Query, record: dict, version: str) -> dict:
    sobj = query.sobject
    out: dict = {
        "attributes": {
            "type": sobj.name,
            "url": f"/services/data/v{version}/sobjects/{sobj.name}/{record['Id']}",
        }
    }
    for path in query.paths:
        if path.relation is None:
            out[path.field.name] = record.get(path.field.name)
            continue
        name = path.relation.relationship_name
        parent = org.store.get(path.parent.name, record.get(path.relation.name))
        if parent is None:
            out[name] = None
            continue
        nested = out.get(name) or {
            "attributes": {
                "type": path.parent.name,
                "url": f"/services/data/v{version}/sobjects/{path.parent.name}/{parent['Id']}",
            }
        }
        nested[path.field.name] = parent.get(path.field.name)
        out[name] = nested
    return out


def parse(org: Org, text: str) -> Query:
    return _Parser(org, text.strip()).parse()


def run(org: Org, text: str, *, include_deleted: bool, version: str) -> Result:
    """Parse and execute ``text``; raises ``RequestFailed`` with Salesforce's error codes."""
    query = parse(org, text)
    rows = [
        r
        for r in org.store.all(query.sobject.name, include_deleted=include_deleted)
        if _matches(org, r, query.where)
    ]
    if query.count_only:
        return Result([], len(rows))
    if query.count_field is not None:
        counted = sum(1 for r in rows if _value(org, r, query.count_field) is not None)
        record = {"attributes": {"type": "AggregateResult"}, query.count_alias: counted}
        return Result([record], 1)
    if query.order:
        rows = _sort(org, rows, query.order)
    rows = rows[query.offset :]
    if query.limit is not None:
        rows = rows[: query.limit]
    return Result([_shape(org, query, r, version) for r in rows], len(rows))
