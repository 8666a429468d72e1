"""The commands that draw: the progress bar of ``jobline submit --wait`` and ``jobline wait``,
``jobline watch`` (jobs, live) and ``jobline status`` (queue depths and workers).

They draw with ``rich``, imported inside each command, never at the top: the client SDK
(``shared/sdk/jobline_client/client.py``) needs only ``requests``, and the other commands start without rich.
On a terminal rich redraws in place; elsewhere (a pipe, a log file, CI) the same commands
print plain lines: one per progress report or change of a job, then the final bar or table.
``COLUMNS`` sets the width and ``NO_COLOR`` turns colour off, as everywhere with rich.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from jobline_client.cli import _handler, _outcome, _print, _seconds
from jobline_client.client import Client

#: The canonical API's terminal states (the client knows only the API, not the server's modules).
FINISHED = frozenset({"succeeded", "failed", "canceled"})
STATUS_STYLE = {"succeeded": "green", "failed": "red", "canceled": "yellow", "running": "cyan"}


def follow(jl: Client, job_id: str, timeout: float | None) -> int:
    """Follow the job's event stream with a progress bar on stderr; print the job, as JSON, at the end."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(TextColumn("job {task.fields[short]}"), BarColumn(), TaskProgressColumn(),
                   TimeElapsedColumn(), TextColumn("{task.fields[message]}"), console=console)
    task = bar.add_task("job", total=1.0, short=job_id[:8], message="")

    def on_progress(fraction: float, message: str | None) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        bar.update(task, completed=fraction, message=message or "")
        if not console.is_terminal:  # no redrawing in a log: one line per report
            console.print(f"progress {fraction * 100:5.1f}%" + (f" {message}" if message else ""),
                          highlight=False, markup=False)

    with bar:
        try:
            job = jl.wait(job_id, timeout, on_progress)
        except TimeoutError as exc:
            bar.update(task, message="still running")
            bar.stop()
            _print(jl.get(job_id))
            console.print(f"jobline: {exc}", highlight=False, markup=False)
            return 1
        if job.get("status") == "succeeded":
            bar.update(task, completed=1.0)
        bar.update(task, message=job.get("status", ""))  # a failed job's bar stays where it stopped
    _print(job)
    return _outcome(job)


def _ago(value: str | None, now: datetime) -> str:
    if not value:
        return "—"
    seconds = max(0, int((now - datetime.fromisoformat(value)).total_seconds()))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def _line(job: dict[str, Any]) -> str:
    return f"{job['id']}  {job['type']:<14} {job['status']:<9} {float(job.get('progress') or 0) * 100:5.1f}%"


def _jobs_table(jobs: list[dict[str, Any]], title: str):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name, kw in (("job", {"no_wrap": True}), ("type", {}), ("status", {}), ("progress", {"justify": "right"}),
                     ("created (UTC)", {"no_wrap": True})):
        table.add_column(name, **kw)
    for j in jobs:
        table.add_row(j["id"][:8], j["type"], f"[{STATUS_STYLE.get(j['status'], 'default')}]{j['status']}",
                      f"{float(j.get('progress') or 0) * 100:.0f}%", (j.get("created_at") or "")[:19].replace("T", " "))
    return table


@_handler
def cmd_watch(args: argparse.Namespace, jl: Client) -> int:
    """Follow the named jobs until all have finished, or the newest jobs until interrupted."""
    from rich.console import Console
    from rich.live import Live

    console = Console()
    title = "jobs" if args.ids else f"newest {args.limit} jobs" + (f" ({', '.join(args.status)})" if args.status else "")

    def snapshot() -> list[dict[str, Any]]:
        if args.ids:
            return [jl.get(i) for i in args.ids]
        return jl.list(args.status, args.type, args.limit)["jobs"]

    seen: dict[str, tuple[str, float]] = {}
    jobs = snapshot()
    live = Live(_jobs_table(jobs, title), console=console, auto_refresh=False) if console.is_terminal else None
    interrupted = False
    try:
        if live:
            live.start()
        while True:
            for j in jobs:
                state = (j["status"], float(j.get("progress") or 0))
                if live is None and seen.get(j["id"]) != state:
                    console.print(_line(j), highlight=False, markup=False)
                seen[j["id"]] = state
            if live:
                live.update(_jobs_table(jobs, title), refresh=True)
            if args.ids and all(j["status"] in FINISHED for j in jobs):
                break
            time.sleep(args.interval)
            jobs = snapshot()
    except KeyboardInterrupt:  # the usual way out of watching the newest jobs
        interrupted = True
    finally:
        if live:
            live.stop()  # leaves the last table on the screen
    if live is None:
        console.print(_jobs_table(jobs, title))
    if interrupted:
        return 130
    return 0 if all(j["status"] == "succeeded" for j in jobs) else 1


@_handler
def cmd_status(args: argparse.Namespace, jl: Client) -> int:
    """Queue depths of your jobs and the workers running them."""
    data = jl.queues()
    if args.json:
        _print(data)
        return 0
    from rich.console import Console
    from rich.table import Table

    now, console = datetime.now(UTC), Console()
    queues = Table(title="Queues (your jobs)", title_justify="left")
    for name in ("queue", "scheduled", "queued", "running"):
        queues.add_column(name, justify="left" if name == "queue" else "right")
    queues.add_column("oldest queued")
    for q in data["queues"]:
        queues.add_row(q["queue"], str(q["scheduled"]), str(q["queued"]), str(q["running"]),
                       _ago(q.get("oldest_queued_at"), now))
    console.print(queues)
    if not data["workers"]:
        console.print("Workers: none is running your jobs now.", highlight=False)
        return 0
    workers = Table(title="Workers (seen by heartbeat)", title_justify="left")
    for name in ("worker", "queues", "running", "last heartbeat"):
        workers.add_column(name, justify="right" if name == "running" else "left")
    for w in data["workers"]:
        workers.add_row(w["worker"], ", ".join(w["queues"]), str(w["running"]), _ago(w.get("last_heartbeat_at"), now))
    console.print(workers)
    return 0


def add_live_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    text = "follow jobs live: the named ones until they finish, else the newest"
    _watch_arguments(sub.add_parser("watch", help=text, parents=[common]))
    jobs = sub.add_parser("jobs", help="jobs: watch (the same as 'jobline watch')")
    _watch_arguments(jobs.add_subparsers(dest="jobs_command", required=True).add_parser(
        "watch", help=text, parents=[common]))
    s = sub.add_parser("status", help="queue depths of your jobs and the workers running them", parents=[common])
    s.add_argument("--json", action="store_true", help="print the API's JSON instead of tables")
    s.set_defaults(func=cmd_status)


def _watch_arguments(w: argparse.ArgumentParser) -> None:
    w.add_argument("ids", nargs="*", metavar="ID", help="jobs to follow (exit 0 once all succeeded, 1 if any did not)")
    w.add_argument("--status", action="extend", nargs="+", metavar="S", help="without IDs: only these statuses")
    w.add_argument("--type", help="without IDs: only this job type")
    w.add_argument("--limit", type=int, default=20, help="without IDs: how many of the newest jobs (default 20)")
    w.add_argument("--interval", type=_seconds, default=1.0, metavar="SECONDS", help="refresh every SECONDS (default 1)")
    w.set_defaults(func=cmd_watch)
