"""Reading Rekosearch requests (query parameters, the upload), and its error format.

Errors are ``{"message": ...}``, plus ``"affected_query_parameter": "<name>: <type>"`` when
one parameter is at fault (``job-id: number``), exactly as the document shows; 401 always
reads ``{"message": "Unauthorized"}``. The upload (``POST /api/v1/upload/gen``) names its
form fields and its ``Send-Email`` header the same way.
"""

from __future__ import annotations

import re

from flask import Response, jsonify, request

from api.common import runtime
from shared.apps.callbacks import parse_target
from shared.engine.accounts import Account
from shared.engine.errors import BadRequest
from shared.media.service import Upload

DIGITS = re.compile(r"^[0-9]+$")
#: Largest id PostgreSQL's bigint holds; a bigger number names no job.
MAX_ID = 2**63 - 1
#: Form fields (or query parameters) that carry the job's name, in order of preference.
NAME_FIELDS = ("job-name", "job_name", "name")
SEND_EMAIL = {"?1": True, "?0": False, "": False}


class ParamError(BadRequest):
    """A request parameter is missing or wrong (``affected``: ``"job-id: number"``)."""

    def __init__(self, message: str, affected: str, status: int = 400) -> None:
        name = affected.partition(":")[0]
        super().__init__(message, errors=[{"name": name, "location": "query", "description": message,
                                           "affected": affected}])
        self.status = status


def render_error(status: int, message: str, errors: list[dict[str, str]], headers: dict[str, str]) -> Response:
    if status == 401:
        message = "Unauthorized"
    elif status == 500:
        message = "Internal server failure"
    body = {"message": message}
    affected = next((e["affected"] for e in errors if e.get("affected")), None)
    if affected:
        body["affected_query_parameter"] = affected
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


def job_id(name: str = "job-id") -> int:
    """A required numeric query parameter; a number too big for any job reads as no job."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        raise ParamError(f"The {name} query parameter is missing", f"{name}: number")
    if not DIGITS.match(raw):
        raise ParamError(f"The {name} query parameter is not a number", f"{name}: number")
    value = int(raw) if len(raw) <= 20 else MAX_ID + 1
    if value > MAX_ID:
        raise ParamError("The job does not exist", f"{name}: number", 404)
    return value


def text_param(name: str, kind: str = "string") -> str:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        raise ParamError(f"The {name} query parameter is missing", f"{name}: {kind}")
    return raw


def _field(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = request.form.get(name) or request.args.get(name)
        if value and value.strip():
            return value.strip()
    return None


def send_email() -> bool:
    raw = request.headers.get("Send-Email", "").strip()
    if raw not in SEND_EMAIL:
        raise ParamError("The Send-Email header must be ?1 or ?0", "Send-Email: ?1|?0")
    return SEND_EMAIL[raw]


def _email(value: str) -> str | None:
    try:
        target = parse_target(value)
    except ValueError:
        return None
    return target.address if target.kind == "email" else None


def email_address(account: Account) -> str:
    """Where the "job done" email goes: the ``email`` field, else the account's name if it is one."""
    given = _field(("email",))
    if given:
        address = _email(given)
        if address is None:
            raise ParamError("The email field is not a valid email address", "email: string")
        return address
    address = _email(account.name)
    if address is None:
        raise ParamError("Send-Email: ?1 needs an address: give an email form field", "email: string")
    return address


def upload(account: Account) -> tuple[str, list[Upload], str | None]:
    """(job name, files, email address or None) of an upload; every file part counts."""
    if request.mimetype != "multipart/form-data":
        raise ParamError("The request must be multipart/form-data with one or more files", "file: file")
    files = []
    for field, part in request.files.items(multi=True):
        data = part.read()
        if part.filename or data:  # a browser's empty file input sends a nameless, empty part
            files.append(Upload(part.filename or field, data))
    if not files:
        raise ParamError("The file field is missing: upload one or more files", "file: file")
    for f in files:
        if not f.data:
            raise ParamError(f"The file {f.filename[:100]!r} is empty", "file: file")
    name = _field(NAME_FIELDS)
    if name is None:
        raise ParamError("The job-name field is missing", "job-name: string")
    if len(name) > 200:
        raise ParamError("The job-name field is longer than 200 characters", "job-name: string")
    email = email_address(account) if send_email() else None
    if email is not None and not runtime().settings.smtp_host:
        # The "job done" email could never be sent: refused now, not retried for a day.
        raise ParamError("Send-Email: ?1, but this server sends no email (no SMTP server configured)",
                         "Send-Email: ?1|?0")
    return name, files, email
