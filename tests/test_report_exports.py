"""Exports keep spreadsheet formulas out (the chunked fast path and the cell-by-cell one agree), and a big
report's answer gives its memory back once it is closed, also when glibc is not there to do it."""

from __future__ import annotations

import csv
import io
import threading

import pytest
import requests

from connector.reports import exports
from connector.serve import memory
from connector.serve.asgi import ConnectorAsgi
from tests.helpers.web_server import uvicorn_server

FIELDS = ["name", "device", "seconds"]


def cell_by_cell(rows: list[dict], fields: list[str]) -> str:
    """What an export must be: every cell through _csv_safe."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(fields)
    writer.writerows([[exports._csv_safe(row.get(k)) for k in fields] for row in rows])
    return buf.getvalue()


TRICKY = [
    {"name": '=HYPERLINK("http://evil","click")', "device": "softphone", "seconds": 1},  # first cell
    {"name": "Edred", "device": "=cmd|' /C calc'!A0", "seconds": 2},
    {"name": "Maria", "device": "+1 555 0100", "seconds": 3},
    {"name": "@sum(A1)", "device": "desk, phone", "seconds": 4},
    {"name": "-x", "device": "-5", "seconds": -6},  # a number stays a number
    {"name": 'a, "quoted"', "device": "-=a,b", "seconds": 7},  # quoted by csv and by _csv_safe
    {"name": "two\nlines", "device": "line\n=second", "seconds": 8},
    {"name": "Wrap-up", "device": "deskphone", "seconds": 9},  # a dash inside a cell is nothing
    {"name": "plain", "device": None, "seconds": 10},
    {"name": "no device", "seconds": 11},  # a missing field is an empty cell
    {"name": "-x", "device": "desk", "seconds": 12},  # the only formula-like cell starts the line
    {"name": "y", "device": "-a,b", "seconds": 13},  # ... is quoted by csv
    {"name": "-a,b", "device": "desk", "seconds": 14},
]


@pytest.mark.parametrize("chunk", [1, 2, 3, 500])
def test_a_csv_export_quotes_formulas_in_any_cell_and_chunk(chunk):
    rows = [{"name": f"Agent {i}", "device": "softphone", "seconds": i} for i in range(7)] + TRICKY
    text = "".join(exports.iter_csv(rows, FIELDS, chunk=chunk))
    assert text == cell_by_cell(rows, FIELDS)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed[7]["name"] == '\'=HYPERLINK("http://evil","click")'
    assert parsed[8]["device"] == "'=cmd|' /C calc'!A0" and parsed[9]["device"] == "'+1 555 0100"
    assert parsed[11]["name"] == "'-x" and parsed[11]["device"] == "-5" and parsed[13]["device"] == "line\n=second"
    assert [parsed[i]["name"] for i in (17, 19)] == ["'-x", "'-a,b"] and parsed[18]["device"] == "'-a,b"
    clean = [{"name": f"Agent {i}", "device": "soft-phone", "seconds": i} for i in range(5)]
    assert "".join(exports.iter_csv(clean, FIELDS, chunk=chunk)) == cell_by_cell(clean, FIELDS)


def test_the_logon_export_quotes_a_hyperlink_device_name(api):
    api.agent("edred")
    api.call(
        "POST",
        "/api/v1/agents/edred/login",
        api.token("integration"),
        json={"device": '=HYPERLINK("http://evil","softphone")'},
    )
    exported = api.client.get("/api/v1/logon-events?format=csv", headers=api.token("supervisor")).get_data(as_text=True)
    (event,) = csv.DictReader(io.StringIO(exported))
    assert event["device"] == '\'=HYPERLINK("http://evil","softphone")'


def test_big_answers_give_memory_back_once_closed_and_work_without_glibc(app, api, monkeypatch):
    """Through `serve`'s ASGI app on uvicorn: the streamed exports once their last chunk is written, the
    session time once answered. Without glibc (musl, macOS) giving back is a no-op and nothing else changes."""
    api.agent("edred")
    token = api.token("supervisor")
    asked = threading.Semaphore(0)
    real_give_back = memory.give_back

    def counting_give_back():
        asked.release()
        return real_give_back()

    monkeypatch.setattr(memory, "give_back", counting_give_back)
    paths = [
        "/api/v1/time-tracking",
        "/api/v1/time-tracking?format=csv",
        "/api/v1/logon-events?format=csv",
        "/api/v1/session-time",
    ]
    with uvicorn_server(ConnectorAsgi(app, threads=2)) as base:
        for path in paths:
            assert requests.get(base + path, headers=token, timeout=10).status_code == 200
            assert asked.acquire(timeout=10), path
        # a page of logon events is small: nothing to give back (an answer with a length is closed before it is sent)
        assert requests.get(base + "/api/v1/logon-events", headers=token, timeout=10).status_code == 200
        assert not asked.acquire(blocking=False)
        monkeypatch.setattr(memory, "_probed", True)
        monkeypatch.setattr(memory, "_libc", None)  # as off glibc
        assert memory.limit_arenas(2) is False and memory.give_back() is False
        for path in paths:
            r = requests.get(base + path, headers=token, timeout=10)
            assert r.status_code == 200 and r.text.startswith(("{", "agent_id,", "at,"))
