"""The ``jobline`` command: database migrations, accounts and keys, running the service.

The admin commands (db, accounts, keys) use the database directly: ``DATABASE_URL``, else
the embedded server of a ``jobline up`` running on ``$JOBLINE_HOME`` (default ``.jobline``).
The API client commands (submit, get, list, wait, ...) live in ``shared/sdk/jobline_client/cli.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from jobline_client.main import add_client_commands

from shared.engine.accounts import KEY_KINDS
from shared.engine.errors import Conflict, DatabaseUnavailable, JoblineError
from shared.engine.settings import Settings


def _settings() -> Settings:
    """The environment's settings; unset server URLs are a local ``jobline up``'s, if one runs."""
    from jobline_client.local import default_data_dir, running

    env = dict(os.environ)
    live = running(default_data_dir())
    if live:
        for var, key in (("DATABASE_URL", "database_url"), ("REDIS_URL", "redis_url")):
            env[var] = env.get(var) or live[key]
    return Settings.from_env(env)


def _no_database_hint() -> str:
    from jobline_client.local import default_data_dir, running

    if os.environ.get("DATABASE_URL") or running(default_data_dir()):
        return ""
    return (f"\n(DATABASE_URL is not set and no `jobline up` is running on {default_data_dir()}: "
            "start one there, set JOBLINE_HOME to its data folder, or set DATABASE_URL)")


def _runtime():
    from shared.engine.runtime import Runtime

    return Runtime.build(_settings())


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from shared.engine.migrate import upgrade

    applied = upgrade(_settings().database_url)
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def cmd_accounts_create(args: argparse.Namespace) -> int:
    rt = _runtime()
    try:
        account = rt.accounts.create(args.name, role=args.role, referers=args.referer,
                                     max_in_flight=args.max_in_flight)
    except Conflict:
        if not args.if_missing:
            raise
        # A deployment's init step runs on every rollout: the first key is printed only once.
        print(json.dumps({"account": args.name, "created": False}))
        return 0
    print(json.dumps({"account": account.name, "role": account.role}))
    if not args.no_key:
        print(rt.accounts.create_key(account, label="first key"))
    return 0


def cmd_accounts_update(args: argparse.Namespace) -> int:
    rt = _runtime()
    account = rt.accounts.update(args.name, referers=args.referer, max_in_flight=args.max_in_flight)
    print(json.dumps({"account": account.name, "referers": list(account.referers),
                      "max_in_flight": account.max_in_flight}))
    return 0


def cmd_accounts_credit(args: argparse.Namespace) -> int:
    from shared.media.credits import Credits

    rt = _runtime()
    row = Credits(rt.db, rt.settings.default_credits).grant(args.name, args.amount)
    print(json.dumps({"account": row["name"], "credits": row["credits"], "credits_spent": row["credits_spent"]}))
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    rt = _runtime()
    print(rt.accounts.create_key(rt.accounts.get(args.account), kind=args.scope, label=args.label))
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    rt = _runtime()
    for key in rt.accounts.list_keys(rt.accounts.get(args.account)):
        state = f"revoked {key['revoked_at']:%Y-%m-%d}" if key["revoked_at"] else "active"
        print(f"jl_{key['prefix']}_…\t{key['kind']} ({','.join(key['scopes'])})\t{state}\t{key['label']}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    rt = _runtime()
    prefix = args.prefix.split("_")[1] if args.prefix.startswith("jl_") else args.prefix
    rt.accounts.revoke_key(prefix)
    print(f"revoked jl_{prefix}_…")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from shared.admin.stack import Options, run

    return run(Options(data_dir=Path(args.data_dir).resolve(), port=args.port, pg_port=args.pg_port,
                       redis_port=args.redis_port, workers=args.workers, concurrency=args.concurrency,
                       demo=not args.no_demo))


def cmd_config(args: argparse.Namespace) -> int:
    print("| variable | default | what it does |\n| --- | --- | --- |")
    for var, default, doc in Settings.table():
        print(f"| `{var}` | `{default}` | {doc} |")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jobline", description="Jobline: one job engine, one canonical API, five dialects.")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply pending migrations (safe to run concurrently)").set_defaults(func=cmd_db_upgrade)

    acc = sub.add_parser("accounts", help="accounts").add_subparsers(dest="acc_command", required=True)
    c = acc.add_parser("create", help="create an account and print its first API key")
    c.add_argument("name")
    c.add_argument("--role", choices=["user", "admin"], default="user")
    c.add_argument("--referer", action="append", help="host allowed to use public keys (repeatable)")
    c.add_argument("--max-in-flight", type=int, default=None, help="limit on unfinished jobs")
    c.add_argument("--no-key", action="store_true", help="do not create a key")
    c.add_argument("--if-missing", action="store_true",
                   help="do nothing (exit 0) if the account exists: for a deployment's init step")
    c.set_defaults(func=cmd_accounts_create)
    u = acc.add_parser("update", help="change an account's referers or limits")
    u.add_argument("name")
    u.add_argument("--referer", action="append")
    u.add_argument("--max-in-flight", type=int, default=None)
    u.set_defaults(func=cmd_accounts_update)
    cr = acc.add_parser("credit", help="grant an account credits (a negative amount takes them back)")
    cr.add_argument("name")
    cr.add_argument("amount", type=int)
    cr.set_defaults(func=cmd_accounts_credit)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    k = keys.add_parser("create", help="create a key (printed once)")
    k.add_argument("account")
    k.add_argument("--scope", choices=KEY_KINDS, default="secret",
                   help="secret: read and write everything of the account; read: only read; "
                        "public: Dragon tasks from a whitelisted Referer, reading only its own")
    k.add_argument("--label", default="")
    k.set_defaults(func=cmd_keys_create)
    kl = keys.add_parser("list", help="list an account's keys (prefixes only)")
    kl.add_argument("account")
    kl.set_defaults(func=cmd_keys_list)
    kr = keys.add_parser("revoke", help="revoke a key by its prefix or the key itself")
    kr.add_argument("prefix")
    kr.set_defaults(func=cmd_keys_revoke)

    up = sub.add_parser("up", help="run the whole service here (embedded PostgreSQL and Redis unless "
                                   "DATABASE_URL / REDIS_URL are set); Ctrl-C stops it")
    up.add_argument("--data-dir", default=os.environ.get("JOBLINE_HOME", ".jobline"),
                    help="where the embedded servers keep their data, logs and the first API key")
    up.add_argument("--port", type=int, default=8000, help="API port on 127.0.0.1 (default 8000)")
    up.add_argument("--pg-port", type=int, default=54329, help="embedded PostgreSQL port (default 54329)")
    up.add_argument("--redis-port", type=int, default=63799, help="embedded Redis port (default 63799)")
    up.add_argument("--workers", choices=["per-queue", "all"], default="per-queue",
                    help="one worker per queue, or one worker on all queues")
    up.add_argument("--concurrency", type=int, default=1, help="processes per worker")
    up.add_argument("--no-demo", action="store_true", help="skip the demo job")
    up.set_defaults(func=cmd_up)

    sub.add_parser("config", help="print the configuration table").set_defaults(func=cmd_config)
    add_client_commands(sub)  # submit, get, list, wait, ...: the API over HTTP
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except DatabaseUnavailable as exc:
        print(f"jobline: {exc.message}{_no_database_hint()}", file=sys.stderr)
        return 3
    except JoblineError as exc:
        print(f"jobline: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
