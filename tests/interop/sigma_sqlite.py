"""The independent side of Ward's Sigma differential test (issue #5): every rule of a folder
converted to SQL by pySigma's SQLite backend (the converter behind Zircolite), run over the
events loaded into an SQLite table, one column per field, as that backend expects.

Run by crates/ward/tests/sigma_differential.rs:

    python3 tests/interop/sigma_sqlite.py ROUTING.json RULES_DIR EVENTS.jsonl[.gz] OUT.jsonl

ROUTING.json is Ward's published logsource table (`ward_detect::sigma::logsource`: Sigma
`service` -> Windows channel, `category` -> channel and EventIDs). The SQL pySigma writes carries
no logsource, so this script applies those conditions itself, in SQL, to the event's own
`Channel` and `EventID` columns: both sides then look at the same events, and the comparison is
about what the detection sections mean. OUT gets one JSON object a rule:
`{"id", "path", "title", "lines": [...]}` with the 1-based line numbers of the events it
matches, or `{"id", "path", "title", "excluded": REASON}` when pySigma cannot convert it.

How the table is built, and why:
- One column for each field some converted rule reads (plus `Channel` and `EventID`); a field
  no event carries is a column of NULLs, as the backend's documentation asks.
- Columns are `TEXT COLLATE NOCASE` (Sigma compares strings without regard to case; the backend
  leaves `=` to the column's collation), or `INTEGER` when every value of that field is an
  integer, so that `gt`/`lt` compare numbers and `EventID=4688` compares as a number.
- Booleans are stored as 'true'/'false', lists and objects as their JSON text, JSON null as NULL
  (so `field: null` matches an absent field and a null one alike, as in pySigma's semantics).
- SQLite column names ignore case, Sigma field names (and Ward) do not: when the events spell
  one name in several ways (`ProcessId`, `ProcessID`), the later spellings get columns of their
  own, and a pySigma field mapping sends a rule's field to the column of its exact spelling
  (a spelling no event carries to a column of NULLs).
- `REGEXP` is Python's `re.search`, false for NULL, as the backend's documentation asks.
- Keyword (fieldless) searches read `fulltext_field`, a column holding the event's text values
  one a line, as the backend's keyword search expects. (A keyword with an inner wildcard could
  match across two values there, where Ward tests each value alone; no SigmaHQ rule fires so.)
- Rules are read with libyaml's safe loader when PyYAML has it: the documents pySigma's own
  `from_yaml` would read, parsed several times faster.
"""
import gzip
import json
import os
import re
import sqlite3
import sys
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import yaml

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TABLE = "logs"
FULLTEXT = "ward_fulltext"


def read_events(path):
    opener = gzip.open if path.endswith(".gz") else open
    events = []
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                events.append((number, json.loads(line)))
    return events


def spellings(events):
    """Column name per field name (exact spelling): the first spelling of a name keeps it, the
    others (same name, other case) get a column of their own."""
    groups = {}
    for _, event in events:
        for key in event:
            group = groups.setdefault(key.lower(), [])
            if key not in group:
                group.append(key)
    return {
        key: key if n == 0 else f"{key}__spelling{n}"
        for group in groups.values()
        for n, key in enumerate(group)
    }


@dataclass
class ExactSpelling(FieldMappingTransformation):
    """Sends a rule's field to the column of its exact spelling: `mapping` gives the columns of
    the later spellings of a name; a spelling no event carries, of a name some event carries in
    another case, gets a column of NULLs of its own."""

    carried: frozenset = frozenset()

    def apply_field_name(self, field):
        column = super().apply_field_name(field)
        if column is None and field is not None and field not in self.carried:
            if any(field.lower() == name.lower() for name in self.carried):
                return f"{field}__absent"
        return column


def stored(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def text_values(value):
    """The text values of an event, as keyword searches see them."""
    if isinstance(value, dict):
        for v in value.values():
            yield from text_values(v)
    elif isinstance(value, list):
        for v in value:
            yield from text_values(v)
    elif isinstance(value, str):
        yield value


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def load(connection, events, columns, fulltext):
    """The table, with a column for each field some rule reads (`columns`: field name ->
    column name); fields no event carries stay NULL columns."""
    integer = {}
    for _, event in events:
        for field, value in event.items():
            if value is not None and field in columns:
                is_int = isinstance(value, int) and not isinstance(value, bool)
                integer[field] = integer.get(field, True) and is_int
    definitions = [
        f"{quote(column)} {'INTEGER' if integer.get(field) else 'TEXT COLLATE NOCASE'}"
        for field, column in columns.items()
    ]
    if fulltext:
        definitions.append(f"{quote(FULLTEXT)} TEXT COLLATE NOCASE")
    connection.execute(f"CREATE TABLE {TABLE} ({', '.join(definitions)})")
    # Events grouped by the fields they carry, so that each insert names only those.
    shapes = defaultdict(list)
    for number, event in events:
        fields = tuple(f for f in event if f in columns)
        row = [number] + [stored(event[f]) for f in fields]
        if fulltext:
            row.append("\n".join(text_values(event)))
        shapes[fields].append(row)
    for fields, rows in shapes.items():
        names = ["rowid"] + [quote(columns[f]) for f in fields]
        names += [quote(FULLTEXT)] if fulltext else []
        connection.executemany(
            f"INSERT INTO {TABLE} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            rows,
        )
    connection.execute(f"CREATE INDEX logsource ON {TABLE} (Channel, EventID)")


@lru_cache(maxsize=None)
def compiled(pattern):
    return re.compile(pattern)


def regexp(pattern, value):
    return value is not None and compiled(pattern).search(str(value)) is not None


def logsource_condition(logsource, routing):
    """Ward's routing as SQL over the event's own columns, or None for no event."""
    if logsource.product != "windows":
        return None
    conditions = []
    if logsource.service is not None:
        channel = routing["services"].get(logsource.service)
        if channel is None:
            return None
        conditions.append(f"Channel = {sql_text(channel)}")
    if logsource.category is not None:
        kinds = routing["categories"].get(logsource.category)
        if kinds is None:
            return None
        alternatives = [
            f"(Channel = {sql_text(channel)} AND EventID IN ({', '.join(map(str, ids))}))"
            for channel, ids in kinds
        ]
        conditions.append("(" + " OR ".join(alternatives) + ")")
    return " AND ".join(conditions) if conditions else "1"


def sql_text(text):
    return "'" + text.replace("'", "''") + "'"


def rule_files(folder):
    for root, _, files in os.walk(folder):
        for name in files:
            if name.endswith((".yml", ".yaml")):
                yield os.path.join(root, name)


def convert(path, rules_dir, pipeline):
    """The rule's record and, when pySigma converts it, its queries and the fields they read."""
    record = {"path": os.path.relpath(path, rules_dir)}
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        # SigmaCollection.from_yaml, with libyaml's loader.
        collection = SigmaCollection.from_dicts(list(yaml.load_all(text, Loader=Loader)))
    except Exception as e:  # pySigma refuses the rule's YAML or its content
        record["excluded"] = f"pySigma cannot parse it: {type(e).__name__}"
        return record, None
    if len(collection.rules) != 1:
        record["excluded"] = "pySigma cannot parse it: not one rule"
        return record, None
    rule = collection.rules[0]
    record["id"] = str(rule.id) if rule.id else None
    record["title"] = rule.title
    if isinstance(rule, SigmaCorrelationRule):
        record["excluded"] = "correlation rule: ward hunt reports correlations as alerts"
        return record, None
    backend = sqliteBackend(pipeline, fulltext_field=FULLTEXT)
    try:
        queries = backend.convert(collection)
    except Exception as e:
        record["excluded"] = f"pySigma's SQLite backend cannot convert it: {type(e).__name__}"
        return record, None
    return record, (rule, queries, backend.required_fields(rule))


def main(routing_path, rules_dir, events_path, out_path):
    with open(routing_path, encoding="utf-8") as f:
        routing = json.load(f)
    events = read_events(events_path)
    columns = spellings(events)
    renamed = {k: v for k, v in columns.items() if k != v}
    spelling = ExactSpelling(renamed, carried=frozenset(columns))
    pipeline = ProcessingPipeline(name="exact field spellings", items=[ProcessingItem(spelling)])
    converted = [convert(path, rules_dir, pipeline) for path in sorted(rule_files(rules_dir))]

    # Only the fields some rule reads (and the two the routing reads) become columns.
    column_of = {column.lower(): (field, column) for field, column in columns.items()}
    needed = {"channel": ("Channel", "Channel"), "eventid": ("EventID", "EventID")}
    fulltext = False
    for _, conversion in converted:
        for name in conversion[2] if conversion else []:
            if name == FULLTEXT:
                fulltext = True
            else:
                needed.setdefault(name.lower(), column_of.get(name.lower(), (name, name)))
    connection = sqlite3.connect(":memory:")
    connection.create_function("regexp", 2, regexp, deterministic=True)
    load(connection, events, dict(needed.values()), fulltext)

    prefix = f"SELECT * FROM {TABLE} WHERE "
    with open(out_path, "w", encoding="utf-8") as out:
        for record, conversion in converted:
            if conversion:
                rule, queries, _ = conversion
                where = logsource_condition(rule.logsource, routing)
                lines = set()
                if where is None:
                    record["unrouted"] = True
                for query in queries if where is not None else []:
                    assert query.startswith(prefix), query
                    sql = f"SELECT rowid FROM {TABLE} WHERE ({where}) AND ({query[len(prefix):]})"
                    lines.update(row[0] for row in connection.execute(sql))
                record["lines"] = sorted(lines)
            out.write(json.dumps(record) + "\n")
    print(f"{len(events)} events, {len(needed)} columns read by the rules")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
