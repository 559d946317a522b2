"""The supervisors' dashboard at contact-centre scale, measured in the browser.

The real app on 127.0.0.1 (tests/web_server.py: werkzeug, threaded, a temporary SQLite store) with
--agents agents on a floor (tests/floor.py: a third on calls, over half past their alert time); Debian's
headless Chromium through Playwright at 1920x1080, signed in as a supervisor.

- *First screen*: from the navigation's start to the first rows of the grid drawn from the stream's
  snapshot (the ``pc-grid-first-rows`` mark of dashboard_grid.js); --loads page loads, median and worst.
- *Changes*: --rate state changes a second for --seconds, made on the server (PresenceService.set_state,
  the path a softphone click takes after HTTP) while a PerformanceObserver records every long task
  (> 50 ms) of the page. Also counted: the agent events the page received, and the last change shown in
  the grid once the run ends (searched for by id, as a supervisor would).

    .venv/bin/python bench/dashboard_bench.py                     # 1,000 agents, 20 changes/s for 30 s
    .venv/bin/python bench/dashboard_bench.py --agents 2000 --rate 40
    .venv/bin/python bench/dashboard_bench.py --seconds 20 --repeats 3 --baseline main   # A/B in one run
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: counts the agent events the page's EventSource delivers (instrumentation of the bench, not of the page)
COUNT_EVENTS = """
(() => {
  window.__agentEvents = 0;
  const add = EventSource.prototype.addEventListener;
  EventSource.prototype.addEventListener = function (name, fn, opts) {
    if (name === "agent") {
      const inner = fn;
      fn = function (ev) { window.__agentEvents += 1; return inner.call(this, ev); };
    }
    return add.call(this, name, fn, opts);
  };
})();
"""

WATCH_LONG_TASKS = """
() => {
  window.__longTasks = [];
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) window.__longTasks.push(e.duration);
  }).observe({type: "longtask", buffered: false});
}
"""


#: what a task of the page's main thread spent its time on, by trace event name (Chrome's timeline names)
TIMELINE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "toplevel"]


def long_task_breakdown(trace: bytes, over_ms: float = 50.0, top: int = 12) -> list[str]:
    """The renderer's main-thread tasks longer than over_ms in a Chrome trace, and where their time went:
    self time per timeline event (Layout, UpdateLayoutTree = style, Paint, FunctionCall...), and per
    script function for the script part."""
    data = json.loads(trace)
    events = data["traceEvents"] if isinstance(data, dict) else data
    mains = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"
    }
    spans = [e for e in events if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in mains and "dur" in e]
    spans.sort(key=lambda e: (e["pid"], e["tid"], e["ts"], -e["dur"]))
    by_name: dict[str, float] = {}
    by_function: dict[str, float] = {}
    tasks: list[float] = []
    i = 0
    while i < len(spans):
        task = spans[i]
        if task["name"] != "RunTask" or task["dur"] < over_ms * 1000:
            i += 1
            continue
        tasks.append(task["dur"] / 1000)
        end = task["ts"] + task["dur"]
        stack: list[dict] = []
        j = i + 1
        inner = []
        while j < len(spans) and spans[j]["ts"] < end and spans[j]["tid"] == task["tid"]:
            inner.append(spans[j])
            j += 1
        # self time: each event's duration less its direct children's
        self_ms = {id(e): e["dur"] / 1000 for e in inner}
        for e in inner:
            while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
                stack.pop()
            if stack:
                self_ms[id(stack[-1])] -= e["dur"] / 1000
            stack.append(e)
        covered = (
            sum(
                e["dur"]
                for e in inner
                if not any(
                    o is not e and o["ts"] <= e["ts"] and o["ts"] + o["dur"] >= e["ts"] + e["dur"] for o in inner
                )
            )
            / 1000
            if len(inner) < 400
            else 0.0
        )
        by_name["(task, not in a child event)"] = by_name.get("(task, not in a child event)", 0.0) + max(
            0.0, task["dur"] / 1000 - covered
        )
        for e in inner:
            by_name[e["name"]] = by_name.get(e["name"], 0.0) + self_ms[id(e)]
            if e["name"] in ("FunctionCall", "TimerFire", "FireAnimationFrame", "EventDispatch", "EvaluateScript"):
                d = e.get("args", {}).get("data", {})
                where = f"{d.get('functionName') or e['name']} {str(d.get('url', '')).rsplit('/', 1)[-1]}:{d.get('lineNumber', '')}"
                by_function[where] = by_function.get(where, 0.0) + e["dur"] / 1000
        i = j
    lines = [f"trace: {len(tasks)} main-thread tasks over {over_ms:.0f} ms ({', '.join(f'{t:.0f}' for t in tasks)} ms)"]
    total = sum(tasks) or 1.0
    for name, ms in sorted(by_name.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {name:<40} {ms:8.1f} ms self  {100 * ms / total:5.1f} %")
    lines.append("  script entry points in those tasks (inclusive):")
    for name, ms in sorted(by_function.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {name:<60} {ms:8.1f} ms")
    return lines


def first_screen(page, base: str) -> float:
    page.goto(base + "/dashboard")
    page.wait_for_function("() => performance.getEntriesByName('pc-grid-first-rows').length > 0", timeout=30000)
    return page.evaluate("performance.getEntriesByName('pc-grid-first-rows')[0].startTime")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="state changes a second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--loads", type=int, default=5, help="page loads for the first-screen figure")
    parser.add_argument("--repeats", type=int, default=1, help="change runs on the same floor (median reported)")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also run the changes with the dashboard's scripts and styles of git revision REV (e.g. main), "
        "alternating with today's in the same run: the anchor on a machine whose load moves",
    )
    parser.add_argument(
        "--trace",
        metavar="FILE",
        help="record a Chrome trace of the page during the changes into FILE and say where its long tasks went",
    )
    args = parser.parse_args()

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from tests.helpers.browser import chromium_browser
    from tests.helpers.floor import WAITING, alert_config, seed_floor
    from tests.helpers.signin import browser_sign_in as sign_in
    from tests.helpers.web_server import live_server

    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp)) as srv:
        srv.user("sue", "supervisor")
        alert_config(srv.parts)
        started = time.monotonic()
        ids = seed_floor(
            srv.parts,
            agents=args.agents,
            on_calls=args.agents // 3,
            waiting=args.agents * 55 // 100,
            teams=tuple(f"Team {n}" for n in range(1, 11)),
        )
        print(f"floor of {len(ids)} agents ready in {time.monotonic() - started:.1f} s", flush=True)
        with chromium_browser() as browser:
            context = browser.new_context(viewport={"width": 1920, "height": 1080})
            context.add_init_script(COUNT_EVENTS)
            page = context.new_page()
            sign_in(page, srv.url, "sue")
            loads = [first_screen(page, srv.url) for _ in range(args.loads)]
            # after the loads: a routed request goes through Playwright and the HTTP cache is off
            serving = {"baseline": False}
            if args.baseline:
                old = baseline_files(args.baseline)

                def route(r) -> None:
                    name = r.request.url.split("?", 1)[0].rsplit("/static/", 1)[-1]
                    if serving["baseline"] and name in old:
                        kind = "text/css" if name.endswith(".css") else "text/javascript"
                        r.fulfill(status=200, body=old[name], headers={"Content-Type": f"{kind}; charset=utf-8"})
                    else:
                        r.continue_()

                context.route("**/static/**", route)
            free = [a for a in ids[args.agents // 3 : -2]]  # logged in and not on a call
            rng = random.Random(24)
            results: list[dict] = []
            for phase in range(args.repeats * (2 if args.baseline else 1)):
                serving["baseline"] = bool(args.baseline) and phase % 2 == 1
                if phase:
                    first_screen(page, srv.url)
                results.append(change_phase(args, browser, page, srv, free, rng, WAITING, serving["baseline"]))
            rows = page.locator("#agents tbody tr.agent-row").count()
            context.close()

    print()
    print(
        f"agents: {args.agents}; viewport 1920x1080; rows in the page: {rows} after search (the grid draws the screen only)"
    )
    print(
        f"first screen (navigation start -> first rows drawn), {args.loads} loads: "
        f"median {statistics.median(loads):.0f} ms, worst {max(loads):.0f} ms  ({', '.join(f'{v:.0f}' for v in loads)})"
    )
    for name in ("current", "baseline"):
        runs = [r for r in results if r["variant"] == name]
        if not runs:
            continue
        for r in runs:
            print(
                f"{name}: changes: {r['total']} in {r['elapsed']:.1f} s ({r['total'] / r['elapsed']:.1f}/s), "
                f"{len(r['errors'])} errors; agent events received by the page: {r['received']}; "
                f"long tasks > 50 ms: {r['over']}, longest {r['longest']:.0f} ms; "
                f"last change shown in the grid: {r['shown']}"
            )
            if r["errors"]:
                print("  errors:", r["errors"][:5])
        print(
            f"{name}: long tasks > 50 ms in {args.seconds:.0f} s, median of {len(runs)}: "
            f"{statistics.median(r['over'] for r in runs):g}  ({', '.join(str(r['over']) for r in runs)})"
        )
    for r in results:
        for line in r["breakdown"]:
            print(f"[{r['variant']}] {line}")


def baseline_files(rev: str) -> dict[str, bytes]:
    """The dashboard's scripts and styles as they were at git revision rev (served in place of today's)."""
    out = {}
    for name in (
        "dashboard.js",
        "dashboard_grid.js",
        "dashboard_actions.js",
        "charts.js",
        "common.js",
        "dashboard.css",
    ):
        try:
            out[name] = subprocess.run(
                ["git", "show", f"{rev}:connector/web/static/{name}"], cwd=ROOT, check=True, capture_output=True
            ).stdout
        except subprocess.CalledProcessError:
            pass  # not there at that revision: today's file is served
    return out


def change_phase(args, browser, page, srv, free, rng, waiting, baseline: bool) -> dict:
    """--rate changes a second for --seconds on the server while the page's long tasks are recorded."""
    page.wait_for_selector("#connection.ok")
    page.wait_for_timeout(2000)  # today's totals and the charts have loaded
    page.evaluate(WATCH_LONG_TASKS)
    if args.trace:
        browser.start_tracing(page=page, categories=TIMELINE_CATEGORIES)
    before = page.evaluate("window.__agentEvents")
    total = int(args.rate * args.seconds)
    last: dict = {}
    errors: list[str] = []

    def drive() -> None:
        t0 = time.monotonic()
        for n in range(total):
            agent = rng.choice(free)
            state = rng.choice((*waiting, "ready", "dnd"))
            try:
                srv.parts.service.set_state(agent, state, source="supervisor")
                last["agent"], last["state"] = agent, state
            except Exception as exc:  # reported below, not hidden
                errors.append(repr(exc))
            delay = t0 + (n + 1) / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    driver = threading.Thread(target=drive)
    t_start = time.monotonic()
    driver.start()
    while driver.is_alive():
        page.wait_for_timeout(500)  # the page keeps running; Playwright must not block its loop
    elapsed = time.monotonic() - t_start
    page.wait_for_timeout(1500)
    breakdown: list[str] = []
    if args.trace:
        trace = browser.stop_tracing()
        Path(args.trace).write_bytes(trace)
        breakdown = long_task_breakdown(trace)
    received = page.evaluate("window.__agentEvents") - before
    long_tasks = page.evaluate("window.__longTasks")
    label = next(s.label for s in srv.parts.configs.active().states if s.id == last["state"])
    page.fill("#filter-search", last["agent"])
    page.wait_for_function(
        "([id, label]) => { const r = document.querySelector(`#agents tr[data-agent='${id}'] .state-cell`);"
        " return r && r.textContent.indexOf(label) === 0; }",
        arg=[last["agent"], label],
        timeout=5000,
    )
    return {
        "variant": "baseline" if baseline else "current",
        "total": total,
        "elapsed": elapsed,
        "errors": errors,
        "received": received,
        "over": len([d for d in long_tasks if d > 50]),
        "longest": max(long_tasks, default=0),
        "shown": f"{last['agent']} -> {label}",
        "breakdown": breakdown,
    }


if __name__ == "__main__":
    main()
