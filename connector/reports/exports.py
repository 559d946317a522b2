"""Report rows as CSV and JSON text, whole or in chunks for a streamed download.

CSV cells that a spreadsheet would run as a formula (a device name like ``=HYPERLINK(...)``) are
quoted with a leading apostrophe (``_csv_safe``). Checking every cell in Python cost more than the
rest of a month's export, so each chunk is first written as it is, in C (``csv.writer`` over
``itemgetter``), and its text searched for what could start such a cell: ``=``, ``+`` or ``@``
anywhere, or ``-`` at the start of a cell (after a comma, a line break or an opening quote). Only a
chunk where one turns up is written again cell by cell through ``_csv_safe``. A cell that
``_csv_safe`` changes starts with one of these characters, so no such cell is missed; the text of a
chunk without any is what the cell-by-cell writer gives.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from operator import itemgetter

#: what a cell that ``_csv_safe`` quotes starts with
FORMULA_STARTS = frozenset("=+-@;\t\r")
#: text in a written chunk that may come from such a cell (a superset: a hit only costs a rewrite)
_MAY_BE_FORMULA = ("=", "+", "@", ";", "\t", "\r", ",-", "\n-", '"-')


def to_csv(rows: Iterable[dict], fields: list[str]) -> str:
    return "".join(iter_csv(rows, fields))


def iter_csv(rows: Iterable[dict], fields: list[str], chunk: int = 500) -> Iterator[str]:
    """The rows as CSV (a header, then ``fields`` of each row; a missing one is empty) in pieces of
    ``chunk`` rows, for a streamed download. Formula-like text is quoted (the module's doc)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(fields)
    cells = itemgetter(*fields) if len(fields) > 1 else (lambda row: (row[fields[0]],))
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == chunk:
            _write_chunk(writer, buf, batch, fields, cells)
            batch = []
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    _write_chunk(writer, buf, batch, fields, cells)
    yield buf.getvalue()


def _write_chunk(writer, buf: io.StringIO, rows: list[dict], fields: list[str], cells) -> None:
    start = buf.tell()
    try:
        writer.writerows(map(cells, rows))
        text = buf.getvalue()
        clean = not (text.startswith("-", start) or any(text.find(s, start) >= 0 for s in _MAY_BE_FORMULA))
    except KeyError:  # a row without one of the fields: the cell-by-cell writer leaves it empty
        clean = False
    if not clean:
        buf.seek(start)
        buf.truncate()
        writer.writerows([[_csv_safe(row.get(k)) for k in fields] for row in rows])


def _csv_safe(value):
    """Keep spreadsheet formulas out of exports (a device name like '=HYPERLINK(...)')."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS and not _is_number(value):
        return "'" + value
    return value


def _is_number(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False


def iter_json(head: dict, key: str, rows: Iterable[dict], chunk: int = 500) -> Iterator[str]:
    """``{**head, key: [rows...]}`` as JSON text in pieces, for a streamed response."""
    yield json.dumps(head)[:-1] + (", " if head else "") + json.dumps(key) + ": ["
    batch: list[dict] = []
    first = True
    for row in rows:
        batch.append(row)
        if len(batch) == chunk:
            yield ("" if first else ", ") + json.dumps(batch)[1:-1]  # one encoder call per chunk
            first, batch = False, []
    if batch:
        yield ("" if first else ", ") + json.dumps(batch)[1:-1]
    yield "]}"


def to_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2)
