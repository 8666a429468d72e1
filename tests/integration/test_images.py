"""image.info and image.thumb through the canonical API, real workers; uploads; hostile sources."""

from __future__ import annotations

import dataclasses
import io
import uuid

import pytest
from PIL import Image

from tests.support import images

pytestmark = pytest.mark.usefixtures("engine")


@pytest.fixture(scope="module")
def served():
    routes = {
        "/cat.jpg": ("image/jpeg", images.jpeg(1600, 1200, orientation=6, camera=True)),
        "/alpha.png": ("image/png", images.png_alpha()),
        "/anim.gif": ("image/gif", images.gif_animated(frames=5)),
        "/disguised.txt": ("text/plain", images.jpeg(320, 240)),  # sniffed, not trusted by name
        "/page.jpg": ("image/jpeg", images.NOT_AN_IMAGE),
        "/truncated.jpg": ("image/jpeg", images.truncated_jpeg()),
        "/bomb.png": ("image/png", images.bomb_png()),
    }
    with images.image_server(routes) as base:
        yield base


def run(client, auth, type_, **params):
    r = client.post("/v1/jobs?wait=30", json={"type": type_, "params": params}, headers=auth)
    assert r.status_code == 201, r.get_json()
    job = r.get_json()
    assert job["status"] in ("succeeded", "failed"), job
    return job


def download(client, auth, job_id, name):
    r = client.get(f"/v1/jobs/{job_id}/files/{name}", headers=auth)
    assert r.status_code == 302, r.get_json()
    got = client.get(r.headers["Location"].split("localhost", 1)[1])
    assert got.status_code == 200
    return got


def test_info_of_a_photo_with_exif(client, auth, served):
    job = run(client, auth, "image.info", url=f"{served}/cat.jpg")
    r = job["result"]
    assert job["status"] == "succeeded" and job["queue"] == "images"
    assert (r["format"], r["content_type"], r["width"], r["height"], r["mode"]) == ("jpeg", "image/jpeg", 1600, 1200, "RGB")
    assert r["rotation"] == 90 and (r["oriented_width"], r["oriented_height"]) == (1200, 1600)
    assert r["exif"]["make"] == "Canon" and r["exif"]["model"] == "Canon EOS 5D"
    assert r["date_time"] == "2013-04-03T15:47:27" and r["iso_speed"] == 400 and r["flash"] is True
    assert r["frames"] == 1 and r["size"] > 1000 and r["alpha"] is False


def test_info_of_png_gif_and_a_disguised_jpeg(client, auth, served):
    png = run(client, auth, "image.info", url=f"{served}/alpha.png")["result"]
    assert (png["format"], png["alpha"], png["width"]) == ("png", True, 300)
    gif = run(client, auth, "image.info", url=f"{served}/anim.gif")["result"]
    assert (gif["format"], gif["frames"], gif["animated"]) == ("gif", 5, True)
    disguised = run(client, auth, "image.info", url=f"{served}/disguised.txt")["result"]
    assert disguised["format"] == "jpeg"


def test_thumb_default_small_and_large(client, auth, served):
    job = run(client, auth, "image.thumb", url=f"{served}/cat.jpg")
    r = job["result"]
    assert job["status"] == "succeeded", job
    assert [f["name"] for f in r["files"]] == ["small", "large"]
    assert (r["original_width"], r["original_height"]) == (1200, 1600)  # upright, as shot
    files = client.get(f"/v1/jobs/{job['id']}/files", headers=auth).get_json()
    assert sorted(f["name"] for f in files) == ["large.jpg", "small.jpg"]
    small = Image.open(io.BytesIO(download(client, auth, job["id"], "small.jpg").data))
    assert small.format == "JPEG" and small.size == (150, 200) == (r["files"][0]["width"], r["files"][0]["height"])
    large = Image.open(io.BytesIO(download(client, auth, job["id"], "large.jpg").data))
    assert large.size == (600, 800)


def test_thumb_sizes_format_crop_and_single_output(client, auth, served):
    job = run(client, auth, "image.thumb", url=f"{served}/alpha.png", sizes={"icon": 32, "card": [120, 60]},
              format="png", crop=True)
    files = {f["name"]: f for f in job["result"]["files"]}
    assert (files["icon"]["width"], files["icon"]["height"]) == (32, 32)
    assert (files["card"]["width"], files["card"]["height"]) == (120, 60)
    card = Image.open(io.BytesIO(download(client, auth, job["id"], "card.png").data))
    assert card.format == "PNG" and card.mode == "RGBA"
    one = run(client, auth, "image.thumb", url=f"{served}/cat.jpg", width=100, format="webp")["result"]
    assert [f["file"] for f in one["files"]] == ["output.webp"] and (one["width"], one["height"]) == (100, 133)
    assert one["content_type"] == "image/webp"


def test_upload_then_info_and_tenancy(client, auth, make_account):
    data = images.jpeg(400, 300)
    r = client.post("/v1/uploads", data={"file": (io.BytesIO(data), "cat.jpg", "image/jpeg")}, headers=auth,
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    upload = r.get_json()
    assert upload["size"] == len(data)
    job = run(client, auth, "image.info", upload_id=upload["upload_id"])
    assert job["status"] == "succeeded" and job["result"]["width"] == 400
    other = {"Authorization": f"Bearer {make_account()[1]}"}
    theirs = run(client, other, "image.info", upload_id=upload["upload_id"])
    assert theirs["status"] == "failed" and "no upload" in theirs["error"]
    assert client.delete(f"/v1/uploads/{upload['upload_id']}", headers=other).status_code == 404
    assert client.delete(f"/v1/uploads/{upload['upload_id']}", headers=auth).status_code == 204
    assert client.delete(f"/v1/uploads/{upload['upload_id']}", headers=auth).status_code == 404
    gone = run(client, auth, "image.info", upload_id=upload["upload_id"])
    assert gone["status"] == "failed" and "no upload" in gone["error"]


def test_raw_upload_and_bad_uploads(client, auth):
    r = client.post("/v1/uploads", data=images.png_alpha(), headers={**auth, "Content-Type": "image/png"})
    assert r.status_code == 201 and uuid.UUID(r.get_json()["upload_id"])
    assert client.post("/v1/uploads", data=b"", headers=auth).status_code == 400
    r = client.post("/v1/uploads", data={"other": (io.BytesIO(b"x"), "x.bin")}, headers=auth,
                    content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["errors"][0]["name"] == "file"
    assert client.post("/v1/uploads", data=b"x").status_code == 401
    assert client.delete("/v1/uploads/not-a-uuid", headers=auth).status_code == 404


def test_upload_size_cap_is_the_fetch_cap_not_the_json_cap(client, auth, runtime, monkeypatch):
    big = b"\xff" * (runtime.settings.max_body_bytes + 1)
    assert client.post("/v1/uploads", data=big, headers={**auth, "Content-Type": "image/jpeg"}).status_code == 201
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(runtime.settings, fetch_max_bytes=1000))
    r = client.post("/v1/uploads", data=b"x" * 1001, headers={**auth, "Content-Type": "image/jpeg"})
    assert r.status_code == 413 and "too large" in r.get_json()["message"]


@pytest.mark.parametrize("path, message", [
    ("/page.jpg", "is not a valid image file"),
    ("/truncated.jpg", "is not a valid image file (truncated)"),
    ("/bomb.png", "the limit is 80000000 pixels"),
    ("/huge", "too large"),
    ("/slow", "2 s"),
    ("/to-metadata", "refused to fetch 169.254.169.254"),
    ("/missing", "HTTP 404"),
])
def test_hostile_sources_fail_the_job_clearly(client, auth, served, path, message):
    job = run(client, auth, "image.thumb", url=f"{served}{path}")
    assert job["status"] == "failed" and message in job["error"], job["error"]
    assert job["attempt"] == 1  # permanent: not retried


def test_private_addresses_are_refused_and_the_worker_lives_on(client, auth, served):
    job = run(client, auth, "image.info", url="http://10.1.2.3/cat.jpg")
    assert job["status"] == "failed" and "private address" in job["error"]
    assert run(client, auth, "image.info", url=f"{served}/alpha.png")["status"] == "succeeded"


@pytest.mark.parametrize("params, name", [
    ({}, "params.url"),
    ({"url": "ftp://example.com/a.jpg"}, "params.url"),
    ({"url": "http://example.com/a.jpg", "upload_id": str(uuid.uuid4())}, "params.url"),
    ({"url": "http://example.com/a.jpg", "sizes": {"../x": 10}}, "params.sizes"),
    ({"url": "http://example.com/a.jpg", "sizes": {"a": 99999}}, "params.sizes"),
    ({"url": "http://example.com/a.jpg", "width": 10, "sizes": {"a": 10}}, "params.sizes"),
    ({"url": "http://example.com/a.jpg", "format": "bmp"}, "params.format"),
    ({"url": "http://example.com/a.jpg", "rotation": 45}, "params.rotation"),
])
def test_bad_thumb_params_are_400_and_create_nothing(client, auth, params, name):
    before = len(client.get("/v1/jobs?limit=500", headers=auth).get_json()["jobs"])
    r = client.post("/v1/jobs", json={"type": "image.thumb", "params": params}, headers=auth)
    assert r.status_code == 400 and name in [e["name"] for e in r.get_json()["errors"]], r.get_json()
    assert len(client.get("/v1/jobs?limit=500", headers=auth).get_json()["jobs"]) == before
