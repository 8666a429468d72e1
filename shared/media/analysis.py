"""What ``media.analyze`` says about one uploaded object: format, size, EXIF, colours, hashes.

Input bytes are hostile: opening goes through ``shared.images.imaging`` (formats sniffed from the
content, the pixel count checked before any pixel is decoded, decoder errors turned into a
clear ``JobError``). Pixels are decoded once, at a reduced scale for big JPEGs; colour
statistics, dominant colours and perceptual hashes are computed on an upright reduction of
at most ``WORK_SIDE`` pixels, which changes means and hashes by far less than they resolve.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from shared.engine.errors import JobError
from shared.images import imaging

#: Largest image analysed (width x height); beyond it, a decompression bomb.
MAX_PIXELS = 50_000_000
#: Side of the reduction that statistics, colours and hashes are computed on (the thumbnail's).
WORK_SIDE = THUMB_SIDE = 256
DOMINANT_COLOURS = 5
#: Media length of a still image (the unit credits are charged in).
STILL_LENGTH = 1
HASH_SIDE = 8
RESAMPLE = Image.Resampling.LANCZOS


@dataclass(frozen=True)
class Analysis:
    full: dict[str, Any]
    min: dict[str, Any]
    thumbnail: bytes
    media_length: float


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB for statistics: alpha over white, deep greyscale scaled into 0..255."""
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        return Image.fromarray(scaled.astype(np.uint8), "L").convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("LA", "La", "PA", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        return background
    return im.convert("RGB")


def _hex(bits: np.ndarray) -> str:
    """A boolean array as hex, row-major, most significant bit first (ImageHash's order)."""
    value = 0
    for bit in bits.flatten():
        value = (value << 1) | int(bit)
    return f"{value:0{bits.size // 4}x}"


def _dct_matrix(n: int) -> np.ndarray:
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    return np.cos(np.pi * (2 * i + 1) * k / (2 * n))


_DCT32 = _dct_matrix(HASH_SIDE * 4)


def hashes(gray: Image.Image) -> dict[str, str]:
    """64-bit average, difference and DCT perceptual hashes of a greyscale image, in hex."""
    a = np.asarray(gray.resize((HASH_SIDE, HASH_SIDE), RESAMPLE), dtype=np.float64)
    d = np.asarray(gray.resize((HASH_SIDE + 1, HASH_SIDE), RESAMPLE), dtype=np.float64)
    p = np.asarray(gray.resize((HASH_SIDE * 4, HASH_SIDE * 4), RESAMPLE), dtype=np.float64)
    low = (_DCT32 @ p @ _DCT32.T)[:HASH_SIDE, :HASH_SIDE]  # the 8x8 lowest frequencies
    return {"ahash": _hex(a > a.mean()), "dhash": _hex(d[:, 1:] > d[:, :-1]),
            "phash": _hex(low > np.median(low))}


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex hashes of the same length (0: same picture)."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def colour_statistics(rgb: Image.Image) -> dict[str, Any]:
    arr = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
    luma = arr @ np.array([0.299, 0.587, 0.114])
    rg, yb = arr[:, 0] - arr[:, 1], 0.5 * (arr[:, 0] + arr[:, 1]) - arr[:, 2]
    # Hasler and Suesstrunk's colourfulness: 0 for grey, ~100 for saturated pictures.
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    return {
        "mean": dict(zip("rgb", (round(float(v), 3) for v in arr.mean(0)), strict=True)),
        "stddev": dict(zip("rgb", (round(float(v), 3) for v in arr.std(0)), strict=True)),
        "brightness": round(float(luma.mean()) / 255, 4),
        "contrast": round(float(luma.std()) / 255, 4),
        "colourfulness": round(float(colourfulness), 3),
        "greyscale": bool(np.abs(arr - arr.mean(1, keepdims=True)).max() < 1.0),
    }


def dominant_colours(rgb: Image.Image, count: int = DOMINANT_COLOURS) -> list[dict[str, Any]]:
    """The main colours (median cut), with the share of the picture each covers."""
    # Nearest-neighbour sampling: averaging at edges would invent colours the picture lacks.
    small = rgb.resize((min(rgb.width, 96), min(rgb.height, 96)), Image.Resampling.NEAREST)
    quantized = small.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    shares: dict[tuple[int, int, int], int] = {}
    for n, index in quantized.getcolors(count * 4) or []:
        colour = tuple(palette[index * 3:index * 3 + 3])
        shares[colour] = shares.get(colour, 0) + n  # type: ignore[index]
    total = sum(shares.values()) or 1
    ranked = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"hex": "#{:02x}{:02x}{:02x}".format(*c), "rgb": list(c), "fraction": round(n / total, 4)}
            for c, n in ranked]


def _thumbnail(rgb: Image.Image) -> tuple[bytes, tuple[int, int]]:
    thumb = rgb.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), RESAMPLE)
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=85)
    return buf.getvalue(), thumb.size


def _decode_upright(data: bytes, label: str) -> tuple[Image.Image, dict[str, Any]]:
    """The first frame decoded (reduced for big JPEGs) and upright, plus what the header says."""
    im = imaging.open_image(data, label, MAX_PIXELS)
    fmt = "jpeg" if im.format in ("JPEG", "MPO") else (im.format or "").lower()
    header = {"format": fmt, "width": im.width, "height": im.height, "mode": im.mode,
              "frames": imaging.count_frames(im), "exif": imaging.exif_summary(im),
              "alpha": "A" in im.mode or "transparency" in im.info,
              "icc_profile": bool(im.info.get("icc_profile"))}
    exif_orientation = imaging.orientation(im)
    turns = imaging.ORIENTATION[exif_orientation][0]
    header["rotation"] = turns  # clockwise degrees that EXIF asks for; applied below
    header["upright_width"], header["upright_height"] = (
        (im.height, im.width) if turns in (90, 270) else (im.width, im.height))
    if header["frames"] > 1:
        im.seek(0)
    if fmt == "jpeg":
        im.draft("RGB", (WORK_SIDE, WORK_SIDE))  # decode at 1/2..1/8 scale, still >= WORK_SIDE
    imaging.decode(im, label)
    try:
        upright = ImageOps.exif_transpose(im) if exif_orientation != 1 else im
    except Exception:  # noqa: BLE001 - a broken EXIF block is no reason to fail
        upright = im
    return upright, header


def analyze(data: bytes, label: str, thumbnail_name: str) -> Analysis:
    """The ``full`` and ``min`` results and a JPEG thumbnail of one still image (or ``JobError``)."""
    if not data:
        raise JobError(f"File '{label}' is empty")
    upright, header = _decode_upright(data, label)
    try:
        rgb = _to_rgb(upright)
    except (ValueError, OSError) as exc:
        raise JobError(f"File '{label}' has pixels we cannot read ({header['mode']}: {exc})") from None
    rgb.thumbnail((WORK_SIDE, WORK_SIDE), RESAMPLE, reducing_gap=2.0)
    thumb, (thumb_w, thumb_h) = _thumbnail(rgb)
    colours = dominant_colours(rgb)
    stats = colour_statistics(rgb)
    digest = hashes(rgb.convert("L"))
    full = {
        "media_type": "image", **header, "size": len(data), "media_length": STILL_LENGTH,
        "colour": stats, "dominant_colours": colours, "hashes": digest,
        "thumbnails": [{"name": thumbnail_name, "width": thumb_w, "height": thumb_h,
                        "content_type": "image/jpeg"}],
    }
    minimal = {
        "media_type": "image", "format": header["format"], "width": header["width"],
        "height": header["height"], "media_length": STILL_LENGTH,
        "dominant_colour": colours[0]["hex"] if colours else None,
        "phash": digest["phash"], "thumbnail": thumbnail_name,
    }
    return Analysis(full, minimal, thumb, STILL_LENGTH)

