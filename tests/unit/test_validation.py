"""The shared validation layer on its own: what PostgreSQL or Python's recursion cannot take."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import marshmallow as ma
import pytest

from shared.engine import validation as v


@pytest.mark.parametrize("text", [
    '{"a": NaN}', "[Infinity]", "[-Infinity]", "[1e400]", "[-1E+400]", "[" + "9" * 400 + ".0]",
    "[9223372036854775808]", "[-9223372036854775809]", "[123456789012345678901234567890]",
    '["\\u0000"]', '{"\\u0000": 1}', '["\\ud800"]', '{"a": {"\\udfff": 1}}', '["x\\uDBFF"]',
    "[" * 10_000, "[" * 65 + "]" * 65, '{"a":' * 70 + "1" + "}" * 70,
])
def test_refused(text):
    with pytest.raises(v.Invalid):
        v.loads(text.encode())
    with pytest.raises(v.Invalid):
        v.loads(text)


def test_what_is_not_json_stays_a_value_error():
    for text in ("[1,", "{'a': 1}", "", "[1] x"):
        with pytest.raises(ValueError):
            v.loads(text)


@pytest.mark.parametrize("value", [
    [2**63 - 1, -(2**63)], {"emoji": "\U0001F600"}, ["\\u0000 is text here"], [1e308, -1e-300, 0.5],
    json.loads("[" * 64 + "]" * 64), {"s": '"[[[[[[' * 50}, [["[" * 100]] * 80, {"k": "\\\\", "j": "\\\"[{"},
])
def test_accepted_as_sent(value):
    assert v.loads(json.dumps(value).encode()) == value
    assert v.loads(json.dumps(value)) == value


def test_check_value_names_the_place():
    with pytest.raises(v.Invalid) as exc:
        v.check_value({"jobs": [{"params": {"name": "a\x00"}}]})
    assert exc.value.where == "jobs.0.params.name"
    with pytest.raises(v.Invalid):
        v.check_value({"a": float("nan")})
    with pytest.raises(v.Invalid):
        v.check_value([2**64])


def test_one_spelling_of_a_uuid():
    u = "3f0c8a2e-1b2c-4d5e-8f90-123456789abc"
    assert v.canonical_uuid(u.upper()) == u
    for other in (f"urn:uuid:{u}", "{" + u + "}", u.replace("-", ""), u + "\x00", 5, None, "²"):
        assert v.canonical_uuid(other) is None


def test_times_at_the_calendars_ends():
    assert v.parse_datetime("0001-01-01T00:00:00Z") == datetime(1, 1, 1, tzinfo=UTC)
    assert v.parse_datetime("2030-05-27T14:30:00") == datetime(2030, 5, 27, 14, 30, tzinfo=UTC)  # no zone: UTC
    for far in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2030-01-01\x00", "tomorrow"):
        with pytest.raises(v.Invalid):
            v.parse_datetime(far)
    assert v.iso(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
    assert v.iso(datetime(2030, 1, 1, 1, tzinfo=timezone(timedelta(hours=2)))) == "2029-12-31T23:00:00Z"


def test_marshmallow_fields():
    class S(ma.Schema):
        name = v.Text()
        meta = v.Object()
        at = v.Moment()

    assert S().load({"name": "ok", "meta": {"a": [1]}, "at": "2030-01-01T00:00:00+02:00"})["at"].tzinfo is UTC
    for bad in ({"name": "a\x00"}, {"meta": {"k\x00": 1}}, {"meta": {"a": float("inf")}},
                {"at": "9999-12-31T23:59:59-01:00"}, {"at": "2030-01-01T00:00:00Z\x00"}):
        with pytest.raises(ma.ValidationError):
            S().load(bad)


def test_the_database_adapter_refuses_what_has_no_utc_form():
    """The last net below the edge: such a time is the client's 400, never an OverflowError."""
    from shared.engine.db import utc
    from shared.engine.errors import BadRequest

    with pytest.raises(BadRequest):
        utc(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1))))
    assert utc(datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))) == datetime(1, 1, 1, tzinfo=UTC)
