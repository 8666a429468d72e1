"""Pillow work (shared/images/imaging.py) and the image job parameters, without any service."""

from __future__ import annotations

import io

import pytest
from marshmallow import ValidationError
from PIL import Image, ImageOps, JpegImagePlugin

from shared.engine.errors import JobError
from shared.images import imaging
from shared.images.jobtypes import InfoParams, ThumbParams, thumb_boxes
from tests.support import images


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize("size, box, crop, out, src", [
    ((4000, 3000), (800, 800), False, (800, 600), (0, 0, 4000, 3000)),
    ((4000, 3000), (None, 300), False, (400, 300), (0, 0, 4000, 3000)),
    ((400, 300), (800, 800), False, (400, 300), (0, 0, 400, 300)),  # never upscaled
    ((4000, 3000), (100, 100), True, (100, 100), (500, 0, 3500, 3000)),
    ((3000, 4000), (300, 100), True, (300, 100), (0, 1500, 3000, 2500)),
    ((200, 100), (400, 400), True, (100, 100), (50, 0, 150, 100)),  # box's shape, not upscaled
    ((4000, 3000), (100, None), True, (100, 75), (0, 0, 4000, 3000)),  # crop needs both sides
])
def test_fit(size, box, crop, out, src):
    got_out, got_src = imaging.fit(*size, box, crop)
    assert got_out == out and tuple(round(v) for v in got_src) == src


def test_describe_jpeg_with_exif_and_orientation():
    info = imaging.describe(images.jpeg(640, 480, orientation=8, camera=True), "x")
    assert (info["format"], info["width"], info["height"], info["mode"]) == ("jpeg", 640, 480, "RGB")
    assert (info["rotation"], info["mirrored"], info["oriented_width"]) == (270, False, 480)
    assert info["exif"] == {"make": "Canon", "model": "Canon EOS 5D", "date_time": "2013-04-03T15:47:27",
                            "exposure_time": 0.008, "f_number": 2.8, "iso_speed": 400.0,
                            "focal_length": 50.0, "flash": True}
    assert info["exposure_time"] == 0.008 and info["flash"] is True


def test_describe_other_formats():
    png = imaging.describe(images.png_alpha(), "x")
    assert (png["format"], png["content_type"], png["alpha"], png["exif"]) == ("png", "image/png", True, {})
    gif = imaging.describe(images.gif_animated(frames=7), "x")
    assert (gif["frames"], gif["animated"]) == (7, True)
    for fmt in ("WEBP", "BMP", "TIFF"):
        buf = io.BytesIO()
        images.photo(50, 40).save(buf, fmt)
        assert imaging.describe(buf.getvalue(), "x")["format"] == fmt.lower()


@pytest.mark.parametrize("data, message", [
    (images.NOT_AN_IMAGE, "File 'u' is not a valid image file"),
    (b"", "File 'u' is not a valid image file"),
    (images.truncated_jpeg(), "not a valid image file (truncated)"),
    (images.bomb_png(), "10000x10000 pixels; the limit is 80000000 pixels"),
    (images.jpeg(100, 100)[:200], "not a valid image file"),
])
def test_hostile_inputs_are_job_errors(data, message):
    for work in (lambda: imaging.describe(data, "u"), lambda: imaging.thumbnails(data, "u", {"s": (10, 10)})):
        with pytest.raises(JobError) as err:
            work()
        assert message in str(err.value)


def test_formats_outside_the_allowlist_are_refused():
    buf = io.BytesIO()
    images.photo(20, 20).save(buf, "PCX")
    with pytest.raises(JobError, match="not a valid image file"):
        imaging.describe(buf.getvalue(), "u")


def test_a_small_pixel_cap_is_applied_before_decoding():
    with pytest.raises(JobError, match="limit is 1000 pixels"):
        imaging.thumbnails(images.jpeg(100, 100), "u", {"s": (10, 10)}, max_pixels=1000)


def test_thumbnails_upright_rotated_and_cropped():
    data = images.jpeg(800, 600, orientation=6)  # shot portrait: upright it is 600x800
    original, [small, large] = imaging.thumbnails(data, "x", {"small": (200, 200), "large": (400, 400)})
    assert original == {"original_width": 600, "original_height": 800}
    assert (small.width, small.height, large.width, large.height) == (150, 200, 300, 400)
    assert opened(small.data).size == (150, 200) and small.content_type == "image/jpeg"
    _, [turned] = imaging.thumbnails(data, "x", {"t": (200, 200)}, rotation=90)
    assert (turned.width, turned.height) == (200, 150)
    _, [square] = imaging.thumbnails(data, "x", {"sq": (100, 100)}, crop=True)
    assert opened(square.data).size == (100, 100)


def _marked(orientation: int) -> bytes:
    """A 400x300 JPEG, blue with a red top-left corner, carrying an EXIF orientation."""
    im = Image.new("RGB", (400, 300), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 100, 75))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def _red_corner(im: Image.Image) -> tuple[bool, bool]:
    """(is the red corner at the right, is it at the bottom)."""
    w, h = im.size
    corners = {(x > 0, y > 0): im.convert("RGB").getpixel((x * (w - 1), y * (h - 1))) for x in (0, 1) for y in (0, 1)}
    return max(corners, key=lambda c: corners[c][0] - corners[c][2])


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("exif_orientation", range(1, 9))
def test_thumbnails_turn_like_pillows_exif_transpose(exif_orientation, rotation):
    data = _marked(exif_orientation)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).rotate(rotation, expand=True)
    _, [fitted, cropped] = imaging.thumbnails(data, "x", {"f": (200, 200), "c": (50, 50)}, rotation=rotation,
                                              crop=True)
    _, [plain] = imaging.thumbnails(data, "x", {"f": (200, 200)}, rotation=rotation)
    expected_size = (200, 150) if expected.size[0] > expected.size[1] else (150, 200)
    assert opened(plain.data).size == expected_size
    assert _red_corner(opened(plain.data)) == _red_corner(expected)
    assert opened(cropped.data).size == (50, 50) and opened(fitted.data).size == (200, 200)


@pytest.mark.parametrize("fmt, mode", [("jpeg", "RGB"), ("png", "RGBA"), ("webp", "RGBA"), ("gif", "P")])
def test_output_formats_keep_or_flatten_alpha(fmt, mode):
    _, [thumb] = imaging.thumbnails(images.png_alpha(), "x", {"s": (60, None)}, fmt=fmt)
    im = opened(thumb.data)
    assert im.format == imaging.OUTPUTS[fmt][0] and im.mode == mode and im.size == (60, 40)
    if fmt == "jpeg":  # transparent areas become white, not black
        assert im.getpixel((1, 1)) == pytest.approx((255, 255, 255), abs=8)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "1", "I;16"])
def test_source_modes(mode):
    buf = io.BytesIO()
    im = images.photo(64, 48).convert(mode if mode != "LA" else "L")
    if mode == "LA":
        im = im.convert("LA")
    im.save(buf, "TIFF" if mode in ("CMYK", "I;16") else "PNG")
    _, [thumb] = imaging.thumbnails(buf.getvalue(), "x", {"s": (32, 32)})
    assert opened(thumb.data).size == (32, 24)


def test_big_jpegs_are_decoded_at_a_reduced_scale(monkeypatch):
    decoded = []
    real = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        decoded.append(self.size)  # the size after draft, before pixels are decoded
        return real(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    imaging.thumbnails(images.jpeg(3200, 2400), "x", {"small": (200, 200), "large": (800, 800)})
    assert decoded[0] == (800, 600)  # 1/4 scale still covers the large thumbnail
    decoded.clear()
    imaging.describe(images.jpeg(3200, 2400), "x")
    assert decoded[0] == (400, 300)


def test_thumb_params():
    base = {"url": "http://files.com/image.jpg"}
    p = ThumbParams().load(base)
    assert (p["format"], p["quality"], p["crop"], p["rotation"]) == ("jpeg", 85, False, 0)
    assert thumb_boxes(p) == {"small": (200, 200), "large": (800, 800)}
    assert thumb_boxes(ThumbParams().load({**base, "width": "120"})) == {"output": (120, None)}
    sizes = ThumbParams().load({**base, "sizes": "a:10, b:20x30,c:x40"})["sizes"]
    assert sizes == {"a": [10, 10], "b": [20, 30], "c": [None, 40]}
    sizes = ThumbParams().load({**base, "sizes": {"a": {"width": 5}, "b": [6, 7], "c": 8}})["sizes"]
    assert sizes == {"a": [5, None], "b": [6, 7], "c": [8, 8]}
    assert InfoParams().load({"upload_id": "3f1e1c8e-1111-4111-8111-111111111111"})["upload_id"]


@pytest.mark.parametrize("params", [
    {}, {"url": "javascript:alert(1)"}, {"url": "http://a.b/" + "x" * 3000},
    {"sizes": {}}, {"sizes": {"a": True}}, {"sizes": {"a": [1, 2, 3]}}, {"sizes": {"a": [None, None]}},
    {"sizes": {f"n{i}": 10 for i in range(9)}}, {"sizes": "a=10"}, {"sizes": 12}, {"quality": 100},
    {"upload_id": "nope"}, {"width": 0}, {"height": 5000},
])
def test_bad_thumb_params(params):
    full = {"url": "http://files.com/image.jpg", **params} if "url" not in params and params else params
    with pytest.raises(ValidationError):
        ThumbParams().load(full)
