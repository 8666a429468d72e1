"""Output files: listed per job, handed out as signed expiring URLs, served by token."""

from __future__ import annotations

from flask import redirect, send_file

from api.auth import authenticate
from api.blueprint import Blueprint
from api.common import base_url, runtime
from api.schemas import FileOut

blp = Blueprint("files", __name__, description="Files of jobs, through signed, expiring URLs.")


@blp.route("/v1/jobs/<job_id>/files")
@blp.response(200, FileOut(many=True))
def list_files(job_id):
    """A job's files, each with a signed URL"""
    rt = runtime()
    job = rt.jobs.get(authenticate(), job_id)
    return [{**f, "url": rt.files.url(f, base_url())} for f in rt.files.list(job["id"])]


@blp.route("/v1/jobs/<job_id>/files/<name>")
@blp.response(302, description="Redirect to the file's signed URL.")
def get_file(job_id, name):
    """Redirect to one file of a job, by name"""
    rt = runtime()
    job = rt.jobs.get(authenticate(), job_id)
    return redirect(rt.files.url(rt.files.get(job["id"], name), base_url()), 302)


@blp.route("/files/<token>")
@blp.doc(security=[])
def download(token):
    """Download a file through a signed link (no key needed; the link expires)"""
    rt = runtime()
    claims = rt.files.resolve(token)
    return send_file(rt.files.store.open(claims["k"]), mimetype=claims["t"], download_name=claims["n"],
                     as_attachment=False, max_age=60)
