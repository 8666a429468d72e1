"""Test images made on the spot, and a local HTTP server that serves them (and misbehaves)."""

from __future__ import annotations

import http.server
import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image


def photo(width: int = 640, height: int = 480, seed: int = 0) -> Image.Image:
    """A photo-like RGB image (gradients plus noise: compresses like a real photo)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)
    arr = np.stack([np.add.outer(y * 0.5, x * 0.5), np.add.outer(y, x * 0), np.add.outer(y * 0, x)], -1)
    arr = (arr % 256 + rng.normal(0, 8, (height, width, 3))).clip(0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def jpeg(width: int = 640, height: int = 480, orientation: int | None = None, camera: bool = False,
         quality: int = 90, seed: int = 0) -> bytes:
    im = photo(width, height, seed)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if camera:
        exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 5D"
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = "2013:04:03 15:47:27"
        sub[0x829A] = 1 / 125
        sub[0x829D] = 2.8
        sub[0x8827] = 400
        sub[0x9209] = 1
        sub[0x920A] = 50.0
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def png_alpha(width: int = 300, height: int = 200) -> bytes:
    im = Image.new("RGBA", (width, height), (255, 0, 0, 0))
    im.paste((0, 0, 255, 255), (50, 50, 150, 150))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def gif_animated(frames: int = 5, size: tuple[int, int] = (64, 48)) -> bytes:
    images = [Image.new("RGB", size, (i * 40 % 256, 255 - i * 40 % 256, 0)) for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg(800, 600)
    return data[: len(data) // 2]


def bomb_png(side: int = 10_000) -> bytes:
    """A tiny file that claims side x side pixels (100 megapixels by default)."""
    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, "PNG")
    return buf.getvalue()


NOT_AN_IMAGE = b"<html><body>This is not an image.</body></html>"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes: dict[str, tuple[str, bytes]] = {}

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/huge":  # declares 2 GB
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(2 << 30))
            self.end_headers()
            self.wfile.write(b"\xff\xd8" + b"\0" * 1024)
            return
        if path == "/slow":  # starts, then stalls past the read timeout
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\xff\xd8\xff")
            self.wfile.flush()
            time.sleep(5)
            return
        if path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/missing" or path not in self.routes:
            self._send(404, "text/plain", b"not found")
            return
        ctype, body = self.routes[path]
        self._send(200, ctype, body)

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def image_server(routes: dict[str, tuple[str, bytes]]) -> Iterator[str]:
    """Serve ``routes`` (path → (content type, body)) on 127.0.0.1; yields the base URL."""
    handler = type("Handler", (_Handler,), {"routes": dict(routes)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
