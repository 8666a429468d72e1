"""Image work with Pillow: describe an image, and make thumbnails cheaply.

Input bytes are hostile: the format is sniffed from the content (never from a URL or a
Content-Type), only common formats are opened, the pixel count is checked before any
pixel is decoded (decompression bombs), and every decoder error becomes a clear
``JobError``. Big JPEGs are decoded at a reduced scale (``Image.draft``) and resized with
``reducing_gap``, so a 24-megapixel photo costs a fraction of a full decode.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from shared.engine.errors import JobError

#: Formats we open; everything else is "not a valid image file".
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")  # JPEG includes MPO (phone cameras)
#: Largest image accepted (width x height): beyond it, a decompression bomb.
MAX_PIXELS = 80_000_000
#: Frames counted at most (an animated GIF could claim millions).
MAX_FRAMES = 10_000
#: Output formats: Pillow's name, file extension, content type.
OUTPUTS = {"jpeg": ("JPEG", "jpg", "image/jpeg"), "png": ("PNG", "png", "image/png"),
           "gif": ("GIF", "gif", "image/gif"), "webp": ("WEBP", "webp", "image/webp")}
#: EXIF orientation → (clockwise rotation to see the image as shot, mirrored).
ORIENTATION = {1: (0, False), 2: (0, True), 3: (180, False), 4: (180, True),
               5: (90, True), 6: (90, False), 7: (270, True), 8: (270, False)}
#: EXIF orientation → the transpositions that show the image upright (as ImageOps.exif_transpose).
T = Image.Transpose
TRANSPOSE = {2: (T.FLIP_LEFT_RIGHT,), 3: (T.ROTATE_180,), 4: (T.FLIP_TOP_BOTTOM,), 5: (T.TRANSPOSE,),
             6: (T.ROTATE_270,), 7: (T.TRANSVERSE,), 8: (T.ROTATE_90,)}
#: Counterclockwise rotations (the ``rotation`` parameter).
ROTATE = {90: T.ROTATE_90, 180: T.ROTATE_180, 270: T.ROTATE_270}
RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 2.0

Box = tuple[int | None, int | None]


@dataclass(frozen=True)
class Thumb:
    name: str
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def not_an_image(label: str, why: str = "") -> JobError:
    return JobError(f"File '{label}' is not a valid image file" + (f" ({why})" if why else ""))


def open_image(data: bytes, label: str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open (not decode) an image, refusing unknown formats and oversized ones."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we apply our own cap
        try:
            im = Image.open(io.BytesIO(data), formats=FORMATS)
        except UnidentifiedImageError:
            raise not_an_image(label) from None
        except Image.DecompressionBombError:
            raise JobError(f"File '{label}' is too large to decode (decompression bomb?)") from None
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise not_an_image(label, str(exc) or type(exc).__name__) from None
    width, height = im.size
    if width < 1 or height < 1:
        raise not_an_image(label, "empty image")
    if width * height > max_pixels:
        raise JobError(f"File '{label}' is {width}x{height} pixels; the limit is {max_pixels} pixels")
    return im


def decode(im: Image.Image, label: str) -> None:
    """Decode the pixels (after any ``draft``), turning truncation and corruption into JobError."""
    try:
        im.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        why = "truncated" if "truncated" in str(exc) else (str(exc) or type(exc).__name__)
        raise not_an_image(label, why) from None


def orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block is no reason to fail
        return 1
    return value if value in ORIENTATION else 1


def count_frames(im: Image.Image) -> int:
    try:
        frames = int(getattr(im, "n_frames", 1))
    except (OSError, ValueError, EOFError):
        return 1
    return min(frames, MAX_FRAMES)


def _number(value: Any) -> float | None:
    try:
        return round(float(value), 6)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 ").strip() or None


def _exif_date(value: Any) -> str | None:
    """EXIF's ``2013:04:03 15:47:27`` → ISO 8601 (no zone: EXIF does not record one)."""
    text = _text(value)
    if not text or len(text) < 19 or text[4] != ":" or text[7] != ":":
        return None
    return f"{text[0:4]}-{text[5:7]}-{text[8:10]}T{text[11:19]}"


def _gps(ifd: dict) -> dict[str, float] | None:
    def degrees(dms: Any, ref: Any) -> float | None:
        try:
            d, m, s = (float(x) for x in dms)
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        value = d + m / 60 + s / 3600
        return round(-value if _text(ref) in ("S", "W") else value, 7)

    lat, lon = degrees(ifd.get(2), ifd.get(1)), degrees(ifd.get(4), ifd.get(3))
    if lat is None or lon is None:
        return None
    out = {"latitude": lat, "longitude": lon}
    alt = _number(ifd.get(6))
    if alt is not None:
        out["altitude"] = -alt if ifd.get(5) in (1, b"\x01") else alt
    return out


def exif_summary(im: Image.Image) -> dict[str, Any]:
    """The EXIF fields a caller usually wants (camera, exposure, date, place), if present."""
    try:
        exif = im.getexif()
        sub = exif.get_ifd(0x8769)
        gps = exif.get_ifd(0x8825)
    except Exception:  # noqa: BLE001 - malformed EXIF: report none rather than fail
        return {}
    flash = sub.get(0x9209)
    summary = {
        "make": _text(exif.get(0x010F)), "model": _text(exif.get(0x0110)),
        "software": _text(exif.get(0x0131)), "lens_model": _text(sub.get(0xA434)),
        "date_time": _exif_date(sub.get(0x9003) or exif.get(0x0132)),
        "exposure_time": _number(sub.get(0x829A)), "f_number": _number(sub.get(0x829D)),
        "iso_speed": _number(sub.get(0x8827)), "focal_length": _number(sub.get(0x920A)),
        "flash": bool(flash & 1) if isinstance(flash, int) else None,
        "gps": _gps(gps) if gps else None,
    }
    return {k: v for k, v in summary.items() if v is not None}


def describe(data: bytes, label: str, max_pixels: int = MAX_PIXELS) -> dict[str, Any]:
    """Format, size, mode, frames, orientation and EXIF of an image (pixels checked, cheaply)."""
    im = open_image(data, label, max_pixels)
    fmt, (width, height), mode = im.format or "", im.size, im.mode
    info = dict(im.info)
    exif = exif_summary(im)
    frames = count_frames(im)
    if frames > 1:
        im.seek(0)
    if fmt in ("JPEG", "MPO"):
        im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))  # validate at 1/8 scale
    decode(im, label)
    rotation, mirrored = ORIENTATION[orientation(im)]
    alpha = "A" in mode or "transparency" in info
    dpi = info.get("dpi")
    result: dict[str, Any] = {
        "type": "image", "format": fmt.lower(),
        "content_type": "image/jpeg" if fmt == "MPO" else Image.MIME.get(fmt, "application/octet-stream"),
        "width": width, "height": height, "mode": mode, "alpha": alpha,
        "frames": frames, "animated": frames > 1, "size": len(data),
        "rotation": rotation, "mirrored": mirrored,
        "oriented_width": height if rotation in (90, 270) else width,
        "oriented_height": width if rotation in (90, 270) else height,
        "progressive": bool(info.get("progressive") or info.get("progression")),
        "icc_profile": bool(info.get("icc_profile")),
        "dpi": [_number(d) for d in dpi] if isinstance(dpi, tuple) and len(dpi) == 2 else None,
        "exif": exif,
    }
    # Dragon's image.info named these at the top level; keep them there too.
    for key in ("date_time", "flash", "focal_length", "iso_speed", "exposure_time"):
        if key in exif:
            result[key] = exif[key]
    return result


def fit(width: int, height: int, box: Box, crop: bool) -> tuple[tuple[int, int], tuple[float, float, float, float]]:
    """(output size, source region) of one thumbnail; never upscales.

    Fit: the whole image inside ``box`` (a missing side is free). Crop: the largest centred
    region of the box's shape, scaled down to the box (or kept, if smaller than the box).
    """
    bw, bh = box
    if crop and bw and bh:
        if width * bh > height * bw:  # wider than the box: cut the sides
            src_w, src_h = height * bw / bh, float(height)
        else:
            src_w, src_h = float(width), width * bh / bw
        left, top = (width - src_w) / 2, (height - src_h) / 2
        size = (bw, bh) if src_w >= bw else (max(1, round(src_w)), max(1, round(src_h)))
        return size, (left, top, left + src_w, top + src_h)
    scale = min(1.0, (bw / width) if bw else 1.0, (bh / height) if bh else 1.0)
    return (max(1, round(width * scale)), max(1, round(height * scale))), (0.0, 0.0, float(width), float(height))


def _flatten(im: Image.Image, fmt: str) -> Image.Image:
    """A mode the resizer and the output format both take (alpha over white for JPEG)."""
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode in ("LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
    elif im.mode not in ("RGB", "RGBA", "L"):
        im = im.convert("RGB")  # CMYK, YCbCr, 1, I;16, F ...
    if fmt == "jpeg" and im.mode == "RGBA":
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        im = background
    return im


def _upright(im: Image.Image, exif_orientation: int, rotation: int) -> Image.Image:
    for op in TRANSPOSE.get(exif_orientation, ()):
        im = im.transpose(op)
    return im.transpose(ROTATE[rotation]) if rotation else im


def thumbnails(data: bytes, label: str, boxes: dict[str, Box], *, fmt: str = "jpeg", quality: int = 85,
               crop: bool = False, rotation: int = 0, max_pixels: int = MAX_PIXELS) -> tuple[dict, list[Thumb]]:
    """Thumbnails of ``data``, one per named box, as seen upright (EXIF orientation applied),
    then rotated ``rotation`` degrees counterclockwise. Returns (original size, thumbs).

    Sizes are planned upright, but the resizing happens in the stored orientation and only the
    small results are turned: turning the decoded image would cost more than the resize.
    Every source region is centred, so going between the two only swaps its sides.
    """
    im = open_image(data, label, max_pixels)
    width, height = im.size
    exif_orientation = orientation(im)
    turns = ORIENTATION[exif_orientation][0]
    swapped = (turns in (90, 270)) != (rotation in (90, 270))
    upright = (height, width) if swapped else (width, height)
    plans = {}
    for name, box in boxes.items():
        size, (left, top, right, bottom) = fit(*upright, box, crop)
        region = (right - left, bottom - top)
        plans[name] = ((size[1], size[0]), region[::-1]) if swapped else (size, region)
    if im.format in ("JPEG", "MPO"):
        # Decode at the smallest scale that still covers the largest thumbnail's source.
        need_w = max(size[0] * width / region[0] for size, region in plans.values())
        need_h = max(size[1] * height / region[1] for size, region in plans.values())
        im.draft(im.mode, (max(1, int(need_w)), max(1, int(need_h))))
    decode(im, label)
    im = _flatten(im, fmt)
    fx, fy = im.size[0] / width, im.size[1] / height  # the draft's reduction
    pil_format, extension, content_type = OUTPUTS[fmt]
    options: dict[str, Any] = {"quality": quality} if fmt in ("jpeg", "webp") else {}
    thumbs = []
    for name, (size, (region_w, region_h)) in plans.items():
        left, top = (width - region_w) / 2 * fx, (height - region_h) / 2 * fy
        box = (left, top, left + region_w * fx, top + region_h * fy)
        out = im.resize(size, RESAMPLE, box=box, reducing_gap=REDUCING_GAP) if size != im.size or crop else im
        out = _upright(out, exif_orientation, rotation)
        buf = io.BytesIO()
        out.save(buf, pil_format, **options)
        thumbs.append(Thumb(name, buf.getvalue(), content_type, extension, *out.size))
    oriented = (height, width) if turns in (90, 270) else (width, height)
    return {"original_width": oriented[0], "original_height": oriented[1]}, thumbs
