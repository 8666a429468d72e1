"""Dragon task keys: a job's public UUID as unpadded base32 (26 characters).

``5OYA5JQVFIAHYOMLQG5QV3U33M`` is the 16 bytes of a UUID in RFC 4648 base32 without its
``======`` padding. Decoding is strict: the key must re-encode to itself (the last character
carries two spare bits, which must be zero), so one job has exactly one key.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid

KEY = re.compile(r"^[A-Z2-7]{26}$")


def encode(public_id: uuid.UUID | str) -> str:
    value = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    return base64.b32encode(value.bytes).decode("ascii").rstrip("=")


def decode(key: object) -> uuid.UUID | None:
    """The UUID a key stands for, or ``None`` if it is not a well-formed key."""
    if not isinstance(key, str):
        return None
    key = key.strip().upper()
    if not KEY.match(key):
        return None
    try:
        value = uuid.UUID(bytes=base64.b32decode(key + "======"))
    except (binascii.Error, ValueError):
        return None
    return value if encode(value) == key else None
