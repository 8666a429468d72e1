"""A full object store: 507 in the surface's own format, nothing half-written, nothing recorded.

The store is a 64 KiB tmpfs mounted for the test (root only: skipped elsewhere). A worker
meeting the same error retries the job later (``StorageFull`` is a ``TransientError``).
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess

import pytest

from shared.engine.errors import StorageFull, TransientError
from shared.engine.storage import LocalStore
from tests.support.media import jpeg


@pytest.fixture
def tiny_store(tmp_path):
    root = tmp_path / "tiny"
    root.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(root)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a tiny tmpfs as a full disk")
    try:
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=False)


def leftovers(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_store_refuses_whole_and_cleans_up(tiny_store):
    store = LocalStore(tiny_store)
    store.put("a/small", b"x" * 1000, "application/octet-stream")
    with pytest.raises(StorageFull) as exc:
        store.put("a/big", b"x" * 200_000, "application/octet-stream")
    assert exc.value.status == 507 and isinstance(exc.value, TransientError)  # workers retry it later
    assert leftovers(tiny_store) == ["a/small"]


def test_uploads_answer_507_in_each_surface_format(runtime, tiny_store, key):
    from api.app import create_app
    from shared.engine.runtime import Runtime

    rt = Runtime.build(dataclasses.replace(runtime.settings, storage_url=f"file://{tiny_store}"))
    try:
        client = create_app(runtime=rt).test_client()
        big = b"x" * 200_000
        r = client.post("/v1/uploads", data=big, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 507 and r.get_json()["status"] == "Insufficient Storage", r.data
        assert "no space" in r.get_json()["message"]
        image = jpeg() + b"\0" * 200_000  # a valid JPEG start, too large for the store
        r = client.post("/rekosearch/api/v1/upload/gen", data={"name": "full", "file": (io.BytesIO(image), "a.jpg")},
                        headers={"Authorization": key}, content_type="multipart/form-data")
        assert r.status_code == 507 and "no space" in r.get_data(as_text=True), r.data
        assert client.get("/rekosearch/api/v1/jobs/list", headers={"Authorization": key}).get_json()["jobs"] == []
        assert leftovers(tiny_store) == []
    finally:
        rt.db.close()
