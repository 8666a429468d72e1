"""What every surface refuses before it reaches PostgreSQL: the shared validation layer.

PostgreSQL refuses NUL in ``text`` and ``jsonb``, lone UTF-16 surrogates, ``NaN`` and
``Infinity`` in ``jsonb``, integers beyond ``bigint`` and timestamps that Python cannot turn
into UTC; Python's ``json`` accepts all of those and recurses once per nesting level. So
every JSON body, form field, query parameter, path segment and datetime goes through here
first, and a value that would have been a 500 deep inside a transaction (or a failed group
flush for other requests) is a 400 naming the field.

The API wires this in once (``api/hostile.py``); marshmallow fields for schemas are here
too so that job types and dialects use the same rules.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from marshmallow import fields

#: Deepest nesting of arrays and objects accepted in a JSON document.
MAX_DEPTH = 64
#: PostgreSQL's bigint range: integers beyond it are refused wherever they come from.
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
#: NUL (PostgreSQL text and jsonb refuse it) and UTF-16 surrogates (never valid text alone).
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
#: JSON escapes that can produce one of those; raw bytes cannot (strict JSON and UTF-8 refuse them).
_BAD_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
#: Every digit → ``0``, anything else → space: a run of 19 zeros is a long number.
_DIGITS = bytes.maketrans(bytes(range(256)), bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256)))
_STRING = re.compile(rb'"[^"]*+"')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Invalid(Exception):
    """A value no surface accepts; ``where`` names it (``params.name``, ``jobs.0.metadata``).

    Not a ``ValueError``: code that reads a body with ``get_json(silent=True)`` would swallow
    it as "not JSON"; instead it reaches the API's handler, which names the value.
    """

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message, self.where = message, where


# -- text ----------------------------------------------------------------------------------


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or ``None``."""
    m = _BAD_CHAR.search(value)
    if m is None:
        return None
    return "contains a NUL character" if m.group() == "\x00" else "contains a lone UTF-16 surrogate"


def check_text(value: str, where: str = "") -> str:
    problem = text_problem(value)
    if problem:
        raise Invalid(problem, where)
    return value


def check_value(value: Any, where: str = "") -> Any:
    """Walk a decoded JSON value: text without NUL or surrogates (keys too), finite numbers,
    integers within bigint, nesting within ``MAX_DEPTH``. Returns ``value``."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, at, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, at)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            check_int(item, at)
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise Invalid("is not a finite number", at)
        elif isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise Invalid(f"is nested deeper than {MAX_DEPTH} levels", at)
            if isinstance(item, dict):
                for key, inner in item.items():
                    name = f"{at}.{key}" if at else str(key)
                    if isinstance(key, str):
                        check_text(key, f"{at} (a key)" if at else "(a key)")
                    stack.append((inner, name, depth + 1))
            else:
                stack.extend((inner, f"{at}.{i}" if at else str(i), depth + 1) for i, inner in enumerate(item))
    return value


def check_int(value: int, where: str = "") -> int:
    if not MIN_INT <= value <= MAX_INT:
        raise Invalid("is out of range (a 64-bit integer)", where)
    return value


# -- JSON ----------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise Invalid(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise Invalid(f"the number {text[:32]} is beyond the range of a double")
    return value


def _int(text: str) -> int:
    if len(text) > 20:
        raise Invalid(f"the integer {text[:24]}... is out of range (a 64-bit integer)")
    return check_int(int(text))


def loads(data: str | bytes | bytearray) -> Any:
    """``json.loads``, refusing what PostgreSQL or Python's recursion cannot take.

    Raises ``ValueError`` (``json.JSONDecodeError``, ``UnicodeDecodeError``) for what is not
    JSON, ``Invalid`` for JSON that no surface accepts.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        _check_depth(raw)
    # The integer hook costs a Python call per integer: only when one has 19 digits or more.
    numbers = {"parse_int": _int} if b"0" * 19 in raw.translate(_DIGITS) else {}
    try:
        value = json.loads(data, parse_constant=_no_constant, parse_float=_float, **numbers)
    except RecursionError:
        raise Invalid(f"the JSON document is nested deeper than {MAX_DEPTH} levels") from None
    if _BAD_ESCAPE.search(raw) or isinstance(data, str) and _BAD_CHAR.search(data):
        check_value(value)
    return value


def _check_depth(raw: bytes) -> None:
    """Peel innermost ``[]`` / ``{}`` pairs off the document's brackets (strings removed),
    one level per pass, in C: a document still holding brackets after ``MAX_DEPTH`` passes
    is nested deeper (unbalanced ones are left for ``json.loads`` to name)."""
    # Escaped backslashes, then escaped quotes, go first: every quote left delimits a string.
    plain = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    brackets = _STRING.sub(b"", plain)
    for _ in range(MAX_DEPTH):
        peeled = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if not peeled or peeled == brackets:
            return
        brackets = peeled
    raise Invalid(f"the JSON document is nested deeper than {MAX_DEPTH} levels")


# -- ids and times -------------------------------------------------------------------------


def canonical_uuid(value: Any) -> str | None:
    """``value`` as a lower-case ``8-4-4-4-12`` UUID, or ``None`` for any other spelling
    (``urn:uuid:``, braces, no dashes): one id, one spelling, everywhere."""
    if not isinstance(value, str) or not _UUID.match(value):
        return None
    return str(uuid.UUID(value))


def to_utc(value: datetime, where: str = "") -> datetime:
    """An aware datetime in UTC; naive ones are taken as UTC. Times whose UTC form falls
    outside years 1..9999 (``0001-01-01T00:00:00+01:00``) are ``Invalid``."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise Invalid("is out of range (years 1 to 9999 in UTC)", where) from None


def parse_datetime(text: str, where: str = "") -> datetime:
    """ISO 8601 text → aware UTC datetime (no zone: UTC); ``Invalid`` otherwise."""
    check_text(text, where)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid("is not an ISO 8601 date-time, e.g. 2030-05-27T14:30:00Z", where) from None
    return to_utc(value, where)


def iso(value: datetime) -> str:
    """``2030-05-27T14:30:00Z``: four-digit years always (``strftime('%Y')`` gives ``1`` for year 1)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


# -- marshmallow fields --------------------------------------------------------------------


class Text(fields.String):
    """A string without NUL or lone surrogates."""

    def _deserialize(self, value, attr, data, **kwargs):
        out = super()._deserialize(value, attr, data, **kwargs)
        problem = text_problem(out)
        if problem:
            raise ma.ValidationError(problem[0].upper() + problem[1:] + ".")
        return out


class Object(fields.Dict):
    """A JSON object whose contents PostgreSQL's jsonb can store."""

    def _deserialize(self, value, attr, data, **kwargs):
        out = super()._deserialize(value, attr, data, **kwargs)
        try:
            check_value(out)
        except Invalid as exc:
            raise ma.ValidationError(str(exc)) from None
        return out


class Moment(fields.AwareDateTime):
    """An ISO 8601 date-time with a zone, stored in UTC; out-of-range ones are refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and text_problem(value):
            raise ma.ValidationError("Not a valid datetime.")
        out = super()._deserialize(value, attr, data, **kwargs)
        try:
            return to_utc(out)
        except Invalid as exc:
            raise ma.ValidationError(f"Out of range: {exc.message}.") from None
