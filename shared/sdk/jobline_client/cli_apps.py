"""``jobline apps create|list|get|delete``, ``jobline deliveries`` and ``jobline webhook``.

Over HTTP like the other client commands (``shared/sdk/jobline_client/cli.py``: same options, output and
exit codes).
"""

from __future__ import annotations

import argparse
from typing import Any

from jobline_client.cli import UsageError, _handler, _print, parse_params, printing
from jobline_client.client import Client


def parse_map(pairs: list[str] | None) -> dict[str, str]:
    """``--input-map data_url=url`` (repeatable) → ``{"data_url": "url"}``."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"--input-map takes INPUT_KEY=PARAM, not {pair!r}")
        out[key] = value
    return out


cmd_apps_create = printing(lambda args, jl: jl.create_app(
    args.name, args.type, parse_params(args.params_json, args.param),
    callback_url=args.callback_url, input_map=parse_map(args.input_map)))


cmd_apps_list = printing(lambda args, jl: jl.list_apps())


cmd_apps_get = printing(lambda args, jl: jl.get_app(args.app_id))


@_handler
def cmd_apps_delete(args: argparse.Namespace, jl: Client) -> int:
    jl.delete_app(args.app_id)
    _print({"app_id": args.app_id, "deleted": True})
    return 0


cmd_deliveries = printing(lambda args, jl: jl.redeliver(args.id, args.redeliver) if args.redeliver
                          else jl.deliveries(args.id))


@_handler
def cmd_webhook(args: argparse.Namespace, jl: Client) -> int:
    if args.default_callback_url is not None or args.no_default:
        _print(jl.set_webhook(None if args.no_default else args.default_callback_url))
    if args.rotate_secret:
        _print(jl.rotate_webhook_secret())
    if args.default_callback_url is None and not args.no_default and not args.rotate_secret:
        _print(jl.webhook())
    return 0


def add_app_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    apps = sub.add_parser("apps", help="apps: a job type with default parameters and callback (over the API)")
    cmds = apps.add_subparsers(dest="apps_command", required=True)
    c = cmds.add_parser("create", help="create an app and print it (with its app_id)", parents=[common])
    c.add_argument("name")
    c.add_argument("--type", required=True, help="its job type (see `jobline types`)")
    c.add_argument("--param", action="append", metavar="KEY=VALUE", help="a default parameter (repeatable)")
    c.add_argument("--params-json", metavar="JSON", help="default parameters as a JSON object (--param wins)")
    c.add_argument("--callback-url", metavar="URL|EMAIL", help="default callback of its jobs")
    c.add_argument("--input-map", action="append", metavar="INPUT_KEY=PARAM",
                   help="rename an input key to a parameter, e.g. data_url=url (repeatable)")
    c.set_defaults(func=cmd_apps_create)
    cmds.add_parser("list", help="list your apps", parents=[common]).set_defaults(func=cmd_apps_list)
    for name, func, help in (("get", cmd_apps_get, "print an app"), ("delete", cmd_apps_delete, "delete an app")):
        p = cmds.add_parser(name, help=help, parents=[common])
        p.add_argument("app_id")
        p.set_defaults(func=func)

    d = sub.add_parser("deliveries", help="a job's callback deliveries and every attempt", parents=[common])
    d.add_argument("id")
    d.add_argument("--redeliver", metavar="DELIVERY_ID", help="send this delivered or given-up delivery again now")
    d.set_defaults(func=cmd_deliveries)

    w = sub.add_parser("webhook", help="print (or change) your default callback; rotate (and print, once) the signing secret",
                       parents=[common])
    w.add_argument("--default-callback-url", metavar="URL|EMAIL", help="callback of jobs that name none")
    w.add_argument("--no-default", action="store_true", help="remove the default callback")
    w.add_argument("--rotate-secret", action="store_true", help="replace the signing secret and print the new one (shown only then)")
    w.set_defaults(func=cmd_webhook)
