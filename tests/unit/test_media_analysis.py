"""media.analyze's analysis (no services): results, hostile files, hashes; and the media job's
pure rules (object names, sniffing, the derived status)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from shared.engine.errors import JobError
from shared.media import analysis as ma
from shared.media.service import PARTIAL, failure, object_name, outcome, sniff
from tests.support import media


def test_jpeg_with_exif_full_and_min():
    got = ma.analyze(media.jpeg(320, 240, orientation=6), "cat.jpg", "u.thumb.jpg")
    full = got.full
    assert (full["format"], full["width"], full["height"], full["mode"]) == ("jpeg", 320, 240, "RGB")
    assert (full["rotation"], full["upright_width"], full["upright_height"]) == (90, 240, 320)
    assert full["exif"]["make"] == "Canon" and full["exif"]["date_time"] == "2013-04-03T15:47:27"
    assert full["media_length"] == 1 == got.media_length and full["frames"] == 1
    assert set(full["colour"]) == {"mean", "stddev", "brightness", "contrast", "colourfulness", "greyscale"}
    assert set(full["colour"]["mean"]) == {"r", "g", "b"}
    assert len(full["dominant_colours"]) >= 3 and set(full["hashes"]) == {"ahash", "dhash", "phash"}
    assert full["thumbnails"] == [{"name": "u.thumb.jpg", "width": 192, "height": 256, "content_type": "image/jpeg"}]
    thumb = Image.open(io.BytesIO(got.thumbnail))
    assert thumb.format == "JPEG" and thumb.size == (192, 256)  # upright, as shot
    assert got.min == {"media_type": "image", "format": "jpeg", "width": 320, "height": 240, "media_length": 1,
                       "dominant_colour": full["dominant_colours"][0]["hex"], "phash": full["hashes"]["phash"],
                       "thumbnail": "u.thumb.jpg"}


def test_colour_statistics_and_dominant_colours_of_two_blocks():
    full = ma.analyze(media.png(200, 100), "flag.png", "t.jpg").full
    assert full["dominant_colours"] == [{"hex": "#ff0000", "rgb": [255, 0, 0], "fraction": 0.75},
                                        {"hex": "#0000ff", "rgb": [0, 0, 255], "fraction": 0.25}]
    assert full["colour"]["mean"] == {"r": 191.25, "g": 0.0, "b": 63.75}
    assert full["colour"]["stddev"]["g"] == 0.0 and full["colour"]["greyscale"] is False


def test_alpha_greyscale_and_deep_images():
    rgba = ma.analyze(media.png_rgba(), "a.png", "t.jpg").full
    assert rgba["alpha"] is True and rgba["mode"] == "RGBA"
    assert rgba["dominant_colours"][0]["hex"] == "#ffffff"  # transparent reads as white paper
    buf = io.BytesIO()
    Image.fromarray(np.tile(np.arange(0, 65536, 256, dtype=np.uint16), (64, 1))).save(buf, "PNG")
    deep = ma.analyze(buf.getvalue(), "deep.png", "t.jpg").full
    assert deep["mode"].startswith("I") and deep["colour"]["greyscale"] is True
    assert 0.4 < deep["colour"]["brightness"] < 0.6  # scaled into 0..255, not clipped to white


@pytest.mark.parametrize(("data", "message"), [
    (media.TEXT, "File 'x' is not a valid image file"),
    (media.truncated_jpeg(), "File 'x' is not a valid image file (truncated)"),
    (media.bomb_png(), "File 'x' is too large to decode (decompression bomb?)"),
    (b"", "File 'x' is empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "File 'x' is not a valid image file"),
])
def test_files_that_cannot_be_processed(data, message):
    with pytest.raises(JobError) as exc:
        ma.analyze(data, "x", "t.jpg")
    assert str(exc.value).startswith(message)


def test_perceptual_hashes_survive_resizing_and_tell_pictures_apart():
    def hashes(im: Image.Image) -> dict[str, str]:
        return ma.hashes(im.convert("L"))

    a, b = media.scene(seed=1), media.scene(seed=2)
    buf = io.BytesIO()
    a.save(buf, "JPEG", quality=60)
    ha, hb = hashes(a), hashes(b)
    for variant in (a.resize((200, 150)), Image.open(buf)):
        hv = hashes(variant)
        assert all(ma.hamming(ha[k], hv[k]) <= 4 for k in ha), (ha, hv)
    assert all(len(v) == 16 for v in ha.values())
    assert all(ma.hamming(ha[k], hb[k]) >= 16 for k in ha), (ha, hb)


def test_dct_matrix_matches_the_definition():
    m = ma._dct_matrix(4)
    x = np.arange(4.0)
    direct = [sum(x[n] * np.cos(np.pi * (2 * n + 1) * k / 8) for n in range(4)) for k in range(4)]
    assert np.allclose(m @ x, direct)


def test_sniff_and_object_names():
    assert sniff(media.jpeg()) == ("image/jpeg", "jpg")
    assert sniff(media.png()) == ("image/png", "png")
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ("image/webp", "webp")
    assert sniff(b"<html><script>alert(1)</script>") == ("application/octet-stream", None)
    u = "0b7d7f2e-5b0c-4c39-9a57-0d4d8d0d7c11"
    assert object_name(u, "Holiday.PNG", "png") == f"{u}.png"
    assert object_name(u, "README", None) == f"{u}.bin"
    assert object_name(u, "photo", "jpg") == f"{u}.jpg"
    assert object_name(u, "../../evil.p/hp!", "jpg") == f"{u}.jpg"  # no clean extension: sniffed


@pytest.mark.parametrize(("statuses", "expected"), [
    ({"queued": 3}, "queued"),
    ({"queued": 1, "scheduled": 1}, "queued"),
    ({"queued": 2, "succeeded": 1}, "running"),
    ({"running": 1, "failed": 1}, "running"),
    ({"succeeded": 3}, "succeeded"),
    ({"succeeded": 2, "failed": 1}, PARTIAL),
    ({"succeeded": 1, "deleted": 1}, PARTIAL),
    ({"failed": 1, "canceled": 1}, "failed"),
])
def test_media_job_status_is_derived_from_its_objects(statuses, expected):
    assert outcome(statuses) == expected


def test_failure_reasons():
    assert failure({"status": "failed", "error": "File 'a' is empty"}) == "File 'a' is empty"
    assert failure({"status": "canceled", "error": None}) == "The object's job was canceled"
    assert failure({"status": "deleted", "error": None}) == "The object's job was deleted"
    assert failure({"status": "succeeded", "error": None}) is None
    assert failure({"status": "running", "error": None}) is None
