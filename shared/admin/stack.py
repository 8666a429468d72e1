"""``jobline up``: the whole service on one machine, in one command.

Starts PostgreSQL and Redis (embedded, unless ``DATABASE_URL`` / ``REDIS_URL`` are set),
applies migrations, creates a first account and key, then runs the API (gunicorn), the
workers and beat as child processes. Ctrl-C stops them in order — API first, workers warm
(their main process gets SIGTERM and finishes running jobs), beat, then the servers — and
leaves no process behind. Children run in their own sessions, so the terminal's SIGINT
reaches only this launcher and the order holds.

While it runs, ``<data dir>/stack.json`` (mode 0600) holds its addresses, so the other
``jobline`` commands started in the same folder find it (``running``), and use the first API
key kept in ``credentials.json`` (``local_key``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from jobline_client.local import CREDENTIALS_FILE, STATE_FILE, running

from shared.engine.settings import Settings

#: How long workers get to finish running jobs on shutdown before they are killed.
WARM_STOP_S = 60.0
READY_TIMEOUT_S = 60.0
HOST = "127.0.0.1"


class StackError(RuntimeError):
    """The stack could not be brought up; the message says why."""


def _write_private(path: Path, value: dict) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was already there with a looser mode
    with os.fdopen(fd, "w") as f:
        json.dump(value, f)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _busy(port: int, what: str, flag: str) -> str:
    spare = next((p for p in range(port + 1, port + 50) if _port_free(p)), None)
    hint = f", e.g. {flag} {spare}" if spare else ""
    return f"\n  {port} ({what}): pick another with {flag}{hint}"


@dataclass
class Options:
    data_dir: Path
    port: int = 8000
    pg_port: int = 54329
    redis_port: int = 63799
    workers: str = "per-queue"  # or "all": one worker consuming every queue
    concurrency: int = 1
    demo: bool = True


@dataclass
class Stack:
    options: Options
    servers: list = field(default_factory=list)
    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    # -- bringing it up ---------------------------------------------------------------

    def up(self) -> tuple[str, str]:
        """Start everything; return (API URL, API key)."""
        from shared.engine.migrate import upgrade
        from shared.engine.registry import QUEUES

        o = self.options
        self._check_free()
        o.data_dir.mkdir(parents=True, exist_ok=True)
        (o.data_dir / "logs").mkdir(exist_ok=True)
        database_url, redis_url = self._servers()
        self.env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
        settings = Settings.from_env(self.env)

        upgrade(database_url)
        key = self._first_key(settings)
        self._spawn("web", [sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf",
                            "-b", f"127.0.0.1:{o.port}", "api.wsgi:app"])
        if o.workers == "all":
            self._worker("all", ",".join(QUEUES), max(o.concurrency, 2))
        else:
            for queue in QUEUES:
                self._worker(queue, queue, o.concurrency)
        self._spawn("beat", [sys.executable, "-m", "celery", "-A", "workers.app", "beat",
                             "-S", "workers.beat:JoblineScheduler", "--pidfile=", "-l", "info"])
        url = f"http://{HOST}:{o.port}"
        self._wait_ready(url)
        _write_private(o.data_dir / STATE_FILE, {"api_url": url, "database_url": database_url,
                                                 "redis_url": redis_url, "pid": os.getpid()})
        return url, key

    def _check_free(self) -> None:
        """Before starting anything: nothing else on this data folder or on the ports we need."""
        o = self.options
        live = running(o.data_dir)
        if live:
            raise StackError(f"Jobline is already running on {o.data_dir} (pid {live['pid']}, API at "
                             f"{live['api_url']}): stop it first, or use another --data-dir")
        wanted = [(o.port, "the API", "--port")]
        if not os.environ.get("DATABASE_URL"):
            wanted.append((o.pg_port, "embedded PostgreSQL", "--pg-port"))
        if not os.environ.get("REDIS_URL"):
            wanted.append((o.redis_port, "embedded Redis", "--redis-port"))
        busy = [_busy(port, what, flag) for port, what, flag in wanted if not _port_free(port)]
        if busy:
            raise StackError(f"nothing was started: ports already in use on {HOST}:" + "".join(busy))

    def started(self) -> dict[str, str]:
        """``{"DATABASE_URL": …, "REDIS_URL": …}`` of the servers this stack started itself."""
        names = {"postgres": "DATABASE_URL", "valkey": "REDIS_URL"}
        return {names[s.name]: s.url for s in self.servers}

    def _servers(self) -> tuple[str, str]:
        database_url = os.environ.get("DATABASE_URL", "")
        redis_url = os.environ.get("REDIS_URL", "")
        if not database_url or not redis_url:
            from shared.admin import embedded

            if not database_url:
                self.servers.append(embedded.start_postgres(self.options.data_dir, self.options.pg_port))
                database_url = self.servers[-1].url
            if not redis_url:
                self.servers.append(embedded.start_redis(self.options.data_dir, self.options.redis_port))
                redis_url = self.servers[-1].url
        _check_reachable(database_url, redis_url)
        return database_url, redis_url

    def _first_key(self, settings: Settings) -> str:
        """The local admin key: created on the first run, kept (mode 0600) in the data folder."""
        path = self.options.data_dir / CREDENTIALS_FILE
        if path.exists():
            return json.loads(path.read_text())["api_key"]
        from shared.engine.errors import NotFound
        from shared.engine.runtime import Runtime

        rt = Runtime.build(settings)
        try:
            account = rt.accounts.get("local")
        except NotFound:
            account = rt.accounts.create("local", role="admin")
        key = rt.accounts.create_key(account, label="jobline up")
        rt.db.close()
        _write_private(path, {"account": "local", "api_key": key})
        return key

    def _worker(self, name: str, queues: str, concurrency: int) -> None:
        self._spawn(f"worker-{name}", [sys.executable, "-m", "celery", "-A", "workers.app", "worker",
                                       "-Q", queues, "-c", str(concurrency), "-n", f"{name}@%h",
                                       "--without-mingle", "--without-gossip", "-l", "info"])

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.options.data_dir / "logs" / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.children.append((name, proc))

    def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self.check_children()
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise StackError(f"the API did not become ready within {READY_TIMEOUT_S:g} s; see {self.options.data_dir}/logs/")

    def check_children(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None:
                raise StackError(f"{name} exited with code {proc.returncode}; see "
                                 f"{self.options.data_dir}/logs/{name}.log")

    # -- taking it down ---------------------------------------------------------------

    def down(self) -> None:
        """API first (no new work), then workers warm, then beat, then the servers."""
        if self.children:  # ours: a refused start must not remove a running stack's file
            (self.options.data_dir / STATE_FILE).unlink(missing_ok=True)
        order = ["web"] + [n for n, _ in self.children if n.startswith("worker")] + ["beat"]
        by_name = dict(self.children)
        for name in order:
            proc = by_name.get(name)
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # the main process: celery's warm shutdown
        for name in order:
            proc = by_name.get(name)
            if proc:
                _wait_or_kill(proc, WARM_STOP_S if name.startswith("worker") else 20)
        for server in reversed(self.servers):
            server.stop()
        self.children.clear()
        self.servers.clear()


def _wait_or_kill(proc: subprocess.Popen, timeout: float) -> None:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    try:  # whatever is left of its session: pool children, gunicorn workers
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _check_reachable(database_url: str, redis_url: str) -> None:
    """Fail fast, and say which, when a configured server cannot be reached."""
    import psycopg2
    import redis

    try:
        psycopg2.connect(database_url, connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        raise StackError(f"PostgreSQL at DATABASE_URL is unreachable: {str(exc).strip()}") from None
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        raise StackError(f"Redis at REDIS_URL is unreachable: {exc}") from None


def run(options: Options) -> int:
    """Bring the stack up, print how to use it, run a demo job, and wait for Ctrl-C."""
    stack = Stack(options)
    stopping = False

    def stop(_signum, _frame):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        url, key = stack.up()
        print(f"Jobline is up.\n  API:      {url}\n  Docs:     {url}/docs\n  Console:  {url}/console (sign in with the key)\n  API key:  {key}\n"
              f"  Data:     {options.data_dir}\n  Logs:     {options.data_dir}/logs/", flush=True)
        for var, value in stack.started().items():
            print(f"  {var}={value}", flush=True)
        if options.demo:
            r = requests.post(f"{url}/v1/jobs?wait=10", json={"type": "hello", "params": {"name": "John"}},
                              headers={"Authorization": f"Bearer {key}"}, timeout=15)
            job = r.json()
            print(f"  Demo job: {job.get('id')} {job.get('status')} → {json.dumps(job.get('result'))}", flush=True)
        print(f"Try: curl -s -X POST '{url}/v1/jobs?wait=5' -H 'Authorization: Bearer {key}' "
              "-H 'Content-Type: application/json' -d '{\"type\": \"hello\", \"params\": {\"name\": \"John\"}}'\n"
              f"  or, from another shell in this folder: jobline submit hello --param name=John --wait\n"
              f"  (jobline keys, accounts, submit, list … find this stack through {options.data_dir}/{STATE_FILE})\n"
              "Ctrl-C stops everything.", flush=True)
        while True:
            stack.check_children()
            time.sleep(1)
    except KeyboardInterrupt:
        print("stopping: API, then workers (finishing running jobs), then beat and the servers…", flush=True)
        return 0
    except Exception as exc:  # noqa: BLE001 - StackError, EmbeddedError, DatabaseUnavailable …
        print(f"jobline up: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan anything
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        started = bool(stack.children or stack.servers)
        stack.down()
        if started:
            print("stopped.", flush=True)
