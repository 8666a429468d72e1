"""One ``/metrics`` exporter per host for every worker process on it (prometheus-client's
multiprocess mode).

Every worker main process and pool child on a host counts into files in one folder,
``$TMPDIR/jobline-metrics-<uid>-<port>``, named by the metrics port. Each worker main process
tries to bind that port; the first one serves the sum of the folder for all of them, the
others retry every few seconds and take over if it stops. So five workers on one host start
cleanly and one scrape shows them all (``jobline_worker_up`` has one sample per live worker).

The folder is shared through member files (``member-<pid>``) under an ``flock`` on the folder
itself: the first member of a fresh group empties what a previous group left behind (stale
counts, as prometheus-client requires); the last one to leave removes the folder.
Nothing here imports prometheus-client at module level: ``PROMETHEUS_MULTIPROC_DIR`` must be
set before it is first imported (workers/app.py calls :func:`prepare` first thing).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

#: How often a standby worker tries the port again (the serving one may have stopped).
RETRY_BIND_S = 3.0
PREFIX = "jobline-metrics-"


def port_from_env() -> int:
    """The worker metrics port, 0 (off) when unset, empty or ``0``."""
    value = os.environ.get("JOBLINE_WORKER_METRICS_PORT", "").strip()
    return int(value) if value.isdigit() else 0


def host_dir(port: int) -> Path:
    return Path(tempfile.gettempdir()) / f"{PREFIX}{os.getuid()}-{port}"


def prepare() -> Path | None:
    """Point prometheus-client at the host's shared folder (before it is imported)."""
    port = port_from_env()
    if not port or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None  # off, or the operator chose the folder (and owns it)
    path = host_dir(port)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    os.environ["JOBLINE_METRICS_DIR_OWNED"] = str(path)  # ours to create and remove
    return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[bool]:
    """Hold the folder's lock; yields False if the folder vanished meanwhile (removed by the
    last member of a previous group), so the caller retries."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        yield same
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _members(path: Path) -> list[int]:
    return [int(p.name.removeprefix("member-")) for p in path.glob("member-*")
            if p.name.removeprefix("member-").isdigit()]


def join(path: Path, pid: int | None = None) -> None:
    """Become a member of the host's group (creating or emptying the folder if first)."""
    pid = pid or os.getpid()
    for _ in range(50):
        path.mkdir(mode=0o700, exist_ok=True)
        with _locked(path) as ok:
            if not ok:
                continue
            if not any(_alive(p) for p in _members(path) if p != pid):
                for stale in path.glob("*.db"):  # a previous group's counts (or a SIGKILLed one's)
                    stale.unlink(missing_ok=True)
                for stale in path.glob("member-*"):
                    stale.unlink(missing_ok=True)
            (path / f"member-{pid}").touch()
            return
    raise RuntimeError(f"could not join the metrics folder {path}")


def leave(path: Path, pid: int | None = None) -> None:
    """Leave the group; the last member alive removes the folder."""
    pid = pid or os.getpid()
    if not path.is_dir():
        return
    from prometheus_client import multiprocess

    with _locked(path) as ok:
        if not ok:
            return
        multiprocess.mark_process_dead(pid, str(path))
        (path / f"member-{pid}").unlink(missing_ok=True)
        if not any(_alive(p) for p in _members(path) if p != pid):
            shutil.rmtree(path, ignore_errors=True)


def serve(path: Path, port: int, addr: str, stop: threading.Event) -> threading.Thread:
    """Serve the folder's sum on ``port`` while this process holds the folder's serving lock.

    The lock (not the bind) decides who serves: the kernel may let several sockets share a
    port, and a lock is released by the kernel when its holder dies, so a standby takes over.
    """

    def run() -> None:
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, str(path))
        fd = os.open(path / "serving.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            logged = False
            while not stop.is_set():
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not logged:
                        log.info("worker metrics port %d is served by another worker on this host", port)
                        logged = True
                    stop.wait(RETRY_BIND_S)
                    continue
                try:
                    server, _thread = start_http_server(port, addr=addr, registry=registry)
                except OSError as exc:  # the previous holder's socket may still be closing
                    if exc.errno != errno.EADDRINUSE:
                        log.error("cannot serve worker metrics on %s:%d: %s", addr, port, exc)
                        return
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    stop.wait(RETRY_BIND_S / 3)
                    continue
                log.info("serving this host's worker metrics on %s:%d", addr, port)
                stop.wait()
                log.info("no longer serving worker metrics on %s:%d", addr, port)
                server.shutdown()
                server.server_close()
                return
        finally:
            os.close(fd)

    thread = threading.Thread(target=run, name="metrics-exporter", daemon=True)
    thread.start()
    return thread
