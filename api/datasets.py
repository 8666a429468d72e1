"""The canonical datasets API: ``/v1/datasets``: RDF triples, storage status, dataset jobs."""

from __future__ import annotations

import io

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from marshmallow import fields, validate

from api.auth import authenticate
from api.blueprint import Blueprint
from api.common import runtime
from api.schemas import JobOut
from shared.datasets import rdf
from shared.datasets.service import STATUSES, DatasetService, UnsupportedMediaType, storage_mode
from shared.engine.errors import BadRequest
from shared.engine.validation import Moment

blp = Blueprint("datasets", __name__, url_prefix="/v1/datasets",
                description="Datasets of RDF triples: load, read, delete, reset and export (Kasabi's stores).")
JOB_TYPES = {"reset": "dataset.reset", "export": "dataset.export"}
READ_BUFFER = 1 << 16
TITLE = [validate.Length(max=200), validate.Regexp(r"^[^\x00]*$", error="Must not contain NUL characters.")]


class RdfDatasetIn(ma.Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,63}$"),
                         metadata={"example": "nasa", "description": "Short code, unique across the service."})
    title = fields.String(load_default="", validate=TITLE)
    status = fields.String(load_default="draft", validate=validate.OneOf(STATUSES))

    class Meta:
        unknown = ma.RAISE


class RdfDatasetPatch(ma.Schema):
    title = fields.String(load_default=None, validate=TITLE)
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))

    class Meta:
        unknown = ma.RAISE


class RdfDatasetOut(ma.Schema):
    code = fields.String()
    title = fields.String()
    status = fields.String(metadata={"description": "draft or published."})
    storage_mode = fields.Function(storage_mode, metadata={"description": "read-write, or read-only while a reset runs."})
    reset_job = fields.UUID(allow_none=True, metadata={"description": "The running reset job, if any."})
    triples = fields.Integer()
    generation = fields.Integer(metadata={"description": "Bumped by each reset."})
    created_at = fields.DateTime()
    reset_at = fields.DateTime(allow_none=True)


class RdfDatasetStatusOut(ma.Schema):
    status = fields.String()
    storage_mode = fields.Function(storage_mode)
    reset_job = fields.UUID(allow_none=True)


class TriplePattern(ma.Schema):
    s = fields.String(load_default=None, metadata={"description": "Subject, an N-Triples term: <http://...>"})
    p = fields.String(load_default=None, metadata={"description": "Predicate: <http://...>"})
    o = fields.String(load_default=None, metadata={"description": 'Object: <http://...> or "text"@en'})


class TriplePageArgs(TriplePattern):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    cursor = fields.String(load_default=None)


class RdfTriple(ma.Schema):
    s = fields.String()
    p = fields.String()
    o = fields.String()


class TriplePageOut(ma.Schema):
    count = fields.Integer(metadata={"description": "Triples in the dataset (matching the pattern, if any)."})
    triples = fields.List(fields.Nested(RdfTriple))
    next_cursor = fields.String(allow_none=True)


class TripleLoadOut(ma.Schema):
    parsed = fields.Integer()
    added = fields.Integer(metadata={"description": "New triples (duplicates are ignored)."})
    triples = fields.Integer()
    generation = fields.Integer()


class TripleDeleteOut(ma.Schema):
    deleted = fields.Integer()
    triples = fields.Integer()
    generation = fields.Integer()


class RdfDatasetJobIn(ma.Schema):
    type = fields.String(required=True, validate=validate.OneOf([*JOB_TYPES, *JOB_TYPES.values()]))
    start_at = Moment(load_default=None, metadata={"description": "Run no earlier than this."})

    class Meta:
        unknown = ma.RAISE


def service() -> DatasetService:
    return DatasetService(runtime().db)


def load_body(account, code: str) -> dict:
    """Load the request's RDF body into dataset ``code`` (also the Kasabi store API)."""
    fmt = request.args.get("format") or rdf.MEDIA_TYPES.get(request.mimetype)
    if fmt not in ("nt", "ttl"):
        raise UnsupportedMediaType(f"send RDF as application/n-triples or text/turtle, not {request.mimetype or 'nothing'!r}")
    settings = runtime().settings
    if fmt == "ttl" and (request.content_length or 0) > settings.max_body_bytes:
        # Too big to parse as Turtle in memory: streamed as N-Triples (a subset of Turtle),
        # which is what pytassium sends, as text/turtle, for a .nt file.
        fmt = "nt"
    # N-Triples is parsed as it streams in; Turtle is read whole, so it keeps the JSON limit.
    request.max_content_length = settings.max_load_bytes if fmt == "nt" else settings.max_body_bytes
    # Werkzeug's stream is unbuffered: reading it line by line would be a read(1) per byte.
    return service().load(account, code, rdf.read(io.BufferedReader(request.stream, READ_BUFFER), fmt))


def _view(row: dict) -> dict:
    return {**row, "triples": service().count(row["id"], row["generation"])}


def _pattern(args: dict) -> dict:
    return {k: rdf.parse_term(args[k], k) if args.get(k) is not None else None for k in "spo"}


@blp.before_request
def _auth() -> None:
    authenticate()


@blp.route("")
class Datasets(MethodView):
    @blp.response(200, RdfDatasetOut(many=True))
    def get(self):
        """The account's datasets"""
        return [_view(r) for r in service().list(authenticate())]

    @blp.arguments(RdfDatasetIn)
    @blp.response(201, RdfDatasetOut)
    def post(self, body):
        """Create a dataset"""
        return _view(service().create(authenticate(), body["code"], body["title"], body["status"]))


@blp.route("/<code>")
class Dataset(MethodView):
    @blp.response(200, RdfDatasetOut)
    def get(self, code):
        """A dataset, with its triple count and storage mode"""
        return _view(service().find(authenticate(), code))

    @blp.arguments(RdfDatasetPatch)
    @blp.response(200, RdfDatasetOut)
    def patch(self, body, code):
        """Change a dataset's title or status (draft, published)"""
        return _view(service().update(authenticate(), code, body["title"], body["status"]))

    @blp.response(204)
    def delete(self, code):
        """Delete a dataset and all its triples"""
        service().delete(authenticate(), code)


@blp.route("/<code>/status")
@blp.response(200, RdfDatasetStatusOut)
def status(code):
    """Storage status: read-write, or read-only while a reset job runs"""
    return service().find(authenticate(), code)


@blp.route("/<code>/triples")
class Triples(MethodView):
    @blp.arguments(TriplePageArgs, location="query")
    @blp.response(200, TriplePageOut, description="JSON; N-Triples with `Accept: application/n-triples`.")
    def get(self, args, code):
        """A page of triples (optionally matching a pattern) and their count"""
        page = service().page(authenticate(), code, args["limit"], args["cursor"], **_pattern(args))
        if request.accept_mimetypes.best == "application/n-triples":
            body = "".join(rdf.nt_line(t["s"], t["p"], t["o"]) for t in page["triples"])
            headers = {"X-Total-Count": str(page["count"])}
            if page["next_cursor"]:
                headers["X-Next-Cursor"] = page["next_cursor"]
            return Response(body, 200, mimetype="application/n-triples", headers=headers)
        return page

    @blp.response(200, TripleLoadOut)
    @blp.doc(requestBody={"required": True, "content": {
        "application/n-triples": {"schema": {"type": "string"}}, "text/turtle": {"schema": {"type": "string"}}}})
    def post(self, code):
        """Add triples from an N-Triples or Turtle body (bulk; all or nothing; duplicates ignored)"""
        return load_body(authenticate(), code)

    @blp.arguments(TriplePattern, location="query")
    @blp.response(200, TripleDeleteOut)
    def delete(self, args, code):
        """Delete the triples matching a pattern (s, p, o; omitted = any)"""
        return service().delete_pattern(authenticate(), code, **_pattern(args))


@blp.route("/<code>/jobs", methods=["POST"])
@blp.arguments(RdfDatasetJobIn)
@blp.response(201, JobOut)
def create_job(body, code):
    """Reset or export the dataset, now or at `start_at` (a scheduled job can be cancelled)"""
    rt, account = runtime(), authenticate()
    ds = service().find(account, code)
    kind = JOB_TYPES.get(body["type"], body["type"])
    if kind not in JOB_TYPES.values():
        raise BadRequest(f"unknown dataset job {body['type']!r}")
    spec = rt.jobs.spec(kind, {"dataset": ds["code"]}, start_at=body["start_at"])
    return rt.jobs.create(account, [spec])[0]
