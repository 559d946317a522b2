"""``presence-connector backup`` while ``serve`` takes presence changes: how long it takes, what the changes feel.

The store of ``bench/retention_bench.py`` (1,000 logged-in agents, 400 days of lean history: 2 million rows,
~360 MB) is served by ``presence-connector serve`` (scheduler off, so only the measured work runs). Paced
PUTs (``--rate`` a second) are timed in windows of ``--seconds`` without a backup (the anchor), then while
``presence-connector backup`` copies the store (one window for as long as it runs), ``--repeats`` times,
alternating. The copy is checked (``PRAGMA integrity_check``) by the command itself.

    .venv/bin/python bench/backup_bench.py [--cache DIR --repeats 3 --rate 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retention_bench import drive, prepare, wait_up  # noqa: E402

from tests.helpers.ports import free_port  # noqa: E402

CLI = str(Path(sys.executable).parent / "presence-connector")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="an anchor window")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", default=None, help="a store kept by bench/retention_bench.py --cache")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="backup-bench-") as tmp:
        db = f"{tmp}/presence.db"
        env = {
            "CONNECTOR_DATABASE_URL": f"sqlite:///{db}",
            "CONNECTOR_INSTANCE_PATH": f"{tmp}/instance",
            "CONNECTOR_PRESENCE_CONFIG": "default",
            "CONNECTOR_TIMEZONE": "UTC",
            "CONNECTOR_ADAPTERS": "",
            "CONNECTOR_PASSWORD_HASH_COST": "test",
            "CONNECTOR_SCHEDULER": "off",
        }
        cache = Path(args.cache) if args.cache else None
        if cache is not None and (cache / "presence.db").exists():
            shutil.copy(cache / "presence.db", db)
            shutil.copytree(cache / "instance", f"{tmp}/instance")
            token = (cache / "token").read_text()
        else:
            token = prepare(env, db)
        size = os.path.getsize(db)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "connector.cli.main", "serve", "--port", str(port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        quiet, during, took = [], [], []
        try:
            wait_up(port)
            drive(port, token, 2, args.rate, args.clients)  # warm-up
            for n in range(args.repeats):
                quiet.append(drive(port, token, args.seconds, args.rate, args.clients))
                copy = f"{tmp}/copy-{n}.db"
                result: dict = {}

                def backup(copy=copy, result=result) -> None:
                    t0 = time.perf_counter()
                    done = subprocess.run(
                        [CLI, "backup", copy], env={**os.environ, **env}, capture_output=True, text=True
                    )
                    result["seconds"] = time.perf_counter() - t0
                    result["ok"] = done.returncode == 0 and "integrity ok" in done.stdout
                    result["err"] = done.stderr

                thread = threading.Thread(target=backup)
                thread.start()
                t0 = time.perf_counter()
                runs = []
                while thread.is_alive():
                    runs.append(drive(port, token, 2, args.rate, args.clients))
                thread.join()
                assert result["ok"], result["err"]
                took.append(result["seconds"])
                every = [ms for r in runs for ms in r["latencies"]]  # one percentile over the whole backup
                q = statistics.quantiles(every, n=100)
                during.append(
                    {
                        "p50_ms": q[49],
                        "p99_ms": q[98],
                        "errors": sum(r["errors"] for r in runs),
                        "requests": sum(r["requests"] for r in runs),
                        "seconds": time.perf_counter() - t0,
                    }
                )
                os.unlink(copy)
        finally:
            server.terminate()
            server.wait(30)
    print(f"store {size / 1e6:.0f} MB; {args.rate:.0f} PUT/s from {args.clients} clients")
    print("| | backup s | requests | errors | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for n in range(args.repeats):
        q, d = quiet[n], during[n]
        print(
            f"| {n + 1}: no backup (anchor) | — | {q['requests']} | {q['errors']} | {q['p50_ms']:.1f} | {q['p99_ms']:.1f} |"
        )
        print(
            f"| {n + 1}: during the backup | {took[n]:.1f} | {d['requests']} | {d['errors']} | {d['p50_ms']:.1f} | "
            f"{d['p99_ms']:.1f} |"
        )
    ratio = statistics.median(d["p99_ms"] for d in during) / statistics.median(q["p99_ms"] for q in quiet)
    print(f"backup median {statistics.median(took):.1f} s; p99 during / without (medians): {ratio:.2f}x")


if __name__ == "__main__":
    main()
