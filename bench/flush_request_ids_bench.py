"""What naming the changes' request ids costs the Salesforce flush (issue 22).

Run: ``.venv/bin/python bench/flush_request_ids_bench.py [--repeats 5] [--agents 1000]``.

Each run builds a fresh SQLite store of ``--agents`` agents all mid-state (``salesforce_bench.build``), with
every open interval carrying the request id of the change that opened it (as API changes leave them), and
runs one real flush against the fake org of ``salesforce_bench`` with JSON logs into memory: at ``INFO``
(each call's line names its records' request ids: one query a call of 200 records) and, as the anchor of
the same run, at ``WARNING`` (no line names them, so no lookup is made). Alternated, medians of the CPU
time of the flushing thread (wall time includes the flush's own pacing sleeps).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import salesforce_bench as sf  # noqa: E402

from connector.observe import logs  # noqa: E402
from connector.parts import get_parts  # noqa: E402


def one(agents: int, level: str) -> tuple[float, int]:
    """(flush CPU ms, bytes logged) of one fresh store at ``level``."""
    out = io.StringIO()
    logs.configure("json", level, "bench", stream=out)
    with tempfile.TemporaryDirectory() as tmp:
        app = sf.build(Path(tmp), agents, 0.0, True)
        store = get_parts(app).store
        with store.write_connection() as conn:
            conn.exec_driver_sql("UPDATE state_intervals SET opened_by = 'req-' || id")
        _, _, written, _, cpu = sf.run_flush(app)
        assert written == agents, written
        store.dispose()
    return cpu * 1000, len(out.getvalue().encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--agents", type=int, default=1000)
    args = parser.parse_args()
    runs: dict[str, list[tuple[float, int]]] = {"INFO": [], "WARNING": []}
    for n in range(args.repeats):
        for level in ("INFO", "WARNING") if n % 2 == 0 else ("WARNING", "INFO"):
            runs[level].append(one(args.agents, level))
    info = [cpu for cpu, _ in runs["INFO"]]
    anchor = [cpu for cpu, _ in runs["WARNING"]]
    print(f"{args.agents} agents mid-state, {args.repeats} fresh stores per level")
    print(f"INFO (ids named):     flush CPU median {statistics.median(info):.0f} ms  {[round(x) for x in info]}")
    print(f"WARNING (no lookup):  flush CPU median {statistics.median(anchor):.0f} ms  {[round(x) for x in anchor]}")
    print(f"ratio INFO / WARNING: {statistics.median(info) / statistics.median(anchor):.2f}")
    print(f"log bytes of one flush at INFO: {statistics.median(b for _, b in runs['INFO']):.0f}")


if __name__ == "__main__":
    main()
