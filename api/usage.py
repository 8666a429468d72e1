"""``GET /v1/usage``: the account's credits (balance, spent) and how many jobs it has."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from api.auth import authenticate
from api.blueprint import Blueprint
from api.common import runtime
from shared.media.credits import Credits

blp = Blueprint("usage", __name__, url_prefix="/v1", description="Credits and usage of the account.")


class UsageOut(ma.Schema):
    account = fields.String(attribute="name", metadata={"description": "The account's name."})
    credits = fields.Integer(metadata={"description": "Credits left (media jobs cost 1 per image)."})
    credits_spent = fields.Integer(metadata={"description": "Credits spent so far, net of refunds for "
                                                           "objects that could not be processed."})
    media_jobs = fields.Integer(metadata={"description": "Media jobs (Rekosearch) the account has now."})
    jobs = fields.Dict(keys=fields.String(), values=fields.Integer(),
                       metadata={"description": "The account's jobs by status.", "example": {"succeeded": 12}})


@blp.route("/usage")
@blp.response(200, UsageOut)
def usage():
    """The account's credits and jobs"""
    rt = runtime()
    return Credits(rt.db, rt.settings.default_credits).usage(authenticate())
