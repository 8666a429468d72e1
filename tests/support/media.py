"""Media test files made on the spot (good, broken and hostile), and Rekosearch request helpers."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw

REKO = "/rekosearch/api/v1"
TEXT = b"Meeting notes\nThis is a text file, not an image.\n"


def photo(width: int = 320, height: int = 240, seed: int = 0) -> Image.Image:
    """A photo-like RGB image: gradients plus noise."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)
    arr = np.stack([np.add.outer(y * 0.5, x * 0.5), np.add.outer(y, x * 0), np.add.outer(y * 0, x)], -1)
    arr = (arr % 256 + rng.normal(0, 8, (height, width, 3))).clip(0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def scene(width: int = 400, height: int = 300, seed: int = 0) -> Image.Image:
    """Coloured discs on a plain background: structure that perceptual hashes can tell apart."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (width, height), (40, 60, 90))
    draw = ImageDraw.Draw(im)
    for _ in range(12):
        x, y, r = int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(20, 90))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return im


def jpeg(width: int = 320, height: int = 240, seed: int = 0, orientation: int | None = None,
         camera: bool = True) -> bytes:
    """A JPEG with a camera's EXIF (Canon EOS 5D, 2013-04-03 15:47:27, ISO 400)."""
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if camera:
        exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 5D"
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = "2013:04:03 15:47:27"
        sub[0x8827] = 400
    buf = io.BytesIO()
    photo(width, height, seed).save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def png(width: int = 200, height: int = 100, colours: tuple = ((255, 0, 0), (0, 0, 255)), split: float = 0.75) -> bytes:
    """Two colour blocks: the first fills ``split`` of the width."""
    im = Image.new("RGB", (width, height), colours[1])
    im.paste(colours[0], (0, 0, round(width * split), height))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def png_rgba(width: int = 120, height: int = 80) -> bytes:
    im = Image.new("RGBA", (width, height), (0, 255, 0, 0))
    im.paste((0, 128, 0, 255), (10, 10, 60, 60))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg(640, 480, seed=3)
    return data[: len(data) * 3 // 5]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(side: int = 20_000) -> bytes:
    """A valid 1-bit PNG of side x side white pixels (400 megapixels) in ~50 KB."""
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row * 500) for _ in range(side // 500)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def upload(client, key: str, files: list[tuple[str, bytes]], name: str = "My job", send_email: str | None = "?0",
           **form: str):
    data = {"job-name": name, **form, "file": [(io.BytesIO(b), n) for n, b in files]}
    headers = {"Authorization": key}
    if send_email is not None:
        headers["Send-Email"] = send_email
    return client.post(f"{REKO}/upload/gen", data=data, headers=headers, content_type="multipart/form-data")


def fetch(client, url: str):
    """GET one of our signed links through the test client."""
    return client.get("/" + url.split("://", 1)[1].split("/", 1)[1])
