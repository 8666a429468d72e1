"""``jobline submit|get|list|wait|cancel|restart|delete|events|types``: the API from a shell.

(``watch``, ``status`` and the progress bar of ``--wait`` draw with rich: ``jobline_client/live.py``.)

These talk to a running service over HTTP (``jobline_client.client``), unlike the admin commands,
which use the database directly. JSON goes to stdout, progress and errors to stderr.
Exit codes: 0 ok; 1 the job failed, was cancelled or did not finish in time; 2 a client
error (4xx, bad arguments); 3 the server is unreachable or answered 5xx.

The server is ``--url``, else ``$JOBLINE_URL``, else the ``jobline up`` running on
``$JOBLINE_HOME`` (default ``.jobline``), else http://127.0.0.1:8000. The key is ``--key``, else
``$JOBLINE_API_KEY``, else — only when talking to that local stack — the first key it created.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from jobline_client.client import ApiError, Client
from jobline_client.local import default_data_dir, local_key, running

FOLLOW = -1.0  # ``--wait`` without a number: follow the event stream


class UsageError(Exception):
    pass


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2), flush=True)


def _fail(message: str, code: int) -> int:
    print(f"jobline: {message}", file=sys.stderr)
    return code


def target(url: str | None, key: str | None) -> tuple[str | None, str | None]:
    """(URL, key) of the server to talk to: as given, from the environment, or the local stack's."""
    url = url or os.environ.get("JOBLINE_URL")
    key = key or os.environ.get("JOBLINE_API_KEY")
    live = running(default_data_dir())
    if live and (url is None or url.rstrip("/") == live["api_url"]):
        # The local key goes only to the local stack, never to a server named elsewhere.
        return live["api_url"], key or local_key(default_data_dir())
    return url, key


def _handler(fn: Callable[[argparse.Namespace, Client], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``fn`` with a client; map errors to a message on stderr and an exit code."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        try:
            with Client(*target(args.url, args.key)) as jl:
                return fn(args, jl)
        except UsageError as exc:
            return _fail(str(exc), 2)
        except ApiError as exc:
            details = "".join(f"\n  {e.get('name')} ({e.get('location')}): {e.get('description')}"
                              for e in exc.errors if isinstance(e, dict))
            return _fail(exc.message + details, 3 if exc.status == 0 or exc.status >= 500 else 2)
        except KeyboardInterrupt:
            print(file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. `jobline list | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141

    return run


def printing(call: Callable[[argparse.Namespace, Client], Any]) -> Callable[[argparse.Namespace], int]:
    """A command that prints what ``call(args, client)`` returns, as JSON."""

    def run(args: argparse.Namespace, jl: Client) -> int:
        _print(call(args, jl))
        return 0

    return _handler(run)


def parse_params(params_json: str | None, pairs: list[str] | None) -> dict[str, Any]:
    """``--params-json`` as the base, then each ``--param k=v`` (v as JSON when it is valid JSON)."""
    params: dict[str, Any] = {}
    if params_json:
        try:
            params = json.loads(params_json)
        except ValueError as exc:
            raise UsageError(f"--params-json is not valid JSON: {exc}") from None
        if not isinstance(params, dict):
            raise UsageError("--params-json must be a JSON object")
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param takes KEY=VALUE, not {pair!r}")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def _outcome(job: dict[str, Any]) -> int:
    if job.get("status") == "failed":
        return _fail(f"job {job.get('id')} failed" + (f": {job['error']}" if job.get("error") else ""), 1)
    if job.get("status") == "canceled":
        return _fail(f"job {job.get('id')} was canceled", 1)
    return 0


def _follow(jl: Client, job_id: str, timeout: float | None) -> int:
    from jobline_client.live import follow  # draws with rich (imports this module)

    return follow(jl, job_id, timeout)


@_handler
def cmd_submit(args: argparse.Namespace, jl: Client) -> int:
    params = parse_params(args.params_json, args.param)
    server_wait = args.wait if args.wait is not None and args.wait > 0 else None
    job = jl.create(args.type, params, start_at=args.start_at, priority=args.priority,
                    wait=server_wait, idempotency_key=args.idempotency_key)
    if args.wait == FOLLOW:
        return _follow(jl, job["id"], None)
    _print(job)
    return 0 if args.wait is None else _outcome(job)


cmd_get = printing(lambda args, jl: jl.get(args.id, wait=args.wait))


@_handler
def cmd_list(args: argparse.Namespace, jl: Client) -> int:
    if args.all:
        _print({"jobs": list(jl.iter_jobs(args.status, args.type, args.limit)), "next_cursor": None})
    else:
        _print(jl.list(args.status, args.type, args.limit, args.cursor))
    return 0


@_handler
def cmd_wait(args: argparse.Namespace, jl: Client) -> int:
    return _follow(jl, args.id, args.timeout)


cmd_cancel = printing(lambda args, jl: jl.cancel(args.id))


cmd_restart = printing(lambda args, jl: jl.restart(args.id))


@_handler
def cmd_delete(args: argparse.Namespace, jl: Client) -> int:
    jl.delete(args.id)
    _print({"id": args.id, "deleted": True})
    return 0


@_handler
def cmd_events(args: argparse.Namespace, jl: Client) -> int:
    if not args.follow:
        _print(jl.events(args.id))
        return 0
    for event in jl.stream_events(args.id):  # one JSON object per line, as they happen
        print(json.dumps(event["data"]), flush=True)
    return 0


cmd_types = printing(lambda args, jl: jl.job_types())


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("seconds must be 0 or more")
    return value


def add_job_commands(sub: Any) -> argparse.ArgumentParser:
    """Add the job commands to ``jobline``'s subparsers; return their common options (--url, --key)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=None, help="API base URL (default: $JOBLINE_URL, else the `jobline up` "
                                                    "running on $JOBLINE_HOME or .jobline, else http://127.0.0.1:8000)")
    common.add_argument("--key", default=None, help="API key (default: $JOBLINE_API_KEY, else the local stack's "
                                                    "first key from .jobline/credentials.json)")

    def command(name: str, help: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, parents=[common])
        p.set_defaults(func=func)
        return p

    s = command("submit", "create a job over the API and print it", cmd_submit)
    s.add_argument("type", help="a job type (see `jobline types`)")
    s.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="a parameter; VALUE is parsed as JSON when valid, else taken as a string (repeatable)")
    s.add_argument("--params-json", metavar="JSON", help="all parameters as a JSON object (--param wins)")
    s.add_argument("--start-at", metavar="ISO", help="run no earlier than this (ISO 8601 with zone)")
    s.add_argument("--priority", type=int, help="0..9, higher first")
    s.add_argument("--wait", nargs="?", type=_seconds, const=FOLLOW, metavar="SECONDS",
                   help="wait up to SECONDS for the answer; without a number, follow the job to its end "
                        "with a progress bar (exit 1 if it failed or was canceled)")
    s.add_argument("--idempotency-key", metavar="KEY", help="same key and body within 24 h: the same job")

    g = command("get", "print a job", cmd_get)
    g.add_argument("id")
    g.add_argument("--wait", type=_seconds, metavar="SECONDS", help="wait up to SECONDS for it to finish")

    ls = command("list", "list jobs, newest first", cmd_list)
    ls.add_argument("--status", action="extend", nargs="+", metavar="S", help="only these statuses (repeatable)")
    ls.add_argument("--type", help="only this job type")
    ls.add_argument("--limit", type=int, default=50, help="jobs per page (default 50)")
    ls.add_argument("--cursor", help="the next_cursor of a previous page")
    ls.add_argument("--all", action="store_true", help="follow next_cursor and print every matching job")

    w = command("wait", "follow a job to its end with a progress bar; exit 0 if it succeeded, else 1", cmd_wait)
    w.add_argument("id")
    w.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="give up after SECONDS (exit 1)")

    command("cancel", "cancel a job", cmd_cancel).add_argument("id")
    command("restart", "run a finished job again", cmd_restart).add_argument("id")
    command("delete", "delete a job, its history and its files", cmd_delete).add_argument("id")
    e = command("events", "print a job's events", cmd_events)
    e.add_argument("id")
    e.add_argument("--follow", action="store_true", help="stream events as JSON lines until the job finishes")
    command("types", "list job types and their parameter schemas", cmd_types)
    return common
