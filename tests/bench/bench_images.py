"""Thumbnails per second through the service, next to a raw Pillow loop over the same images.

Run: ``python tests/bench/bench_images.py [--images 60] [--workers 2] [--megapixels 12]``.

One run starts its own Jobline (gunicorn, a celery worker on ``images`` with ``--workers``
processes, fresh database), serves the same JPEG photos from a local HTTP server, then:
1. baseline: the handler's own Pillow code (``shared.images.imaging.thumbnails``: draft, EXIF
   transpose, 800 and 200 px thumbnails, JPEG encode) over the images in memory, in
   ``--workers`` processes; for reference also Pillow as one would write it plainly
   (``Image.thumbnail`` after ``draft`` to the box), which the handler beats;
2. the service: one batch of ``image.thumb`` jobs (default small and large), timed from the
   first job's creation to the last one's completion (database timestamps): fetch over
   HTTP, Pillow, two files into the object store, events, results; then the same batch with
   the images uploaded beforehand (``upload_id``), which leaves out the HTTP fetch;
3. ``image.info`` latency, one request at a time (``POST /v1/jobs?wait=30``, end to end).
The figure is the ratio of (2) to (1) at the same number of processes. (1) and (2) alternate
for ``--rounds`` rounds and the best of each is kept, so a neighbour's burst of CPU on a
shared machine does not decide the ratio; every round's pair is printed too. As a figure
that other load cannot skew, the CPU seconds per thumbnail set are compared as well: Pillow
alone against everything the service's processes spent (workers, gunicorn, PostgreSQL).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import requests
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.images import imaging  # noqa: E402
from tests.support import images  # noqa: E402
from tests.support.benchstack import BenchStack, machine, percentile  # noqa: E402
from tests.support.machine import cpu_seconds, process_tree  # noqa: E402

_DATA: list[bytes] = []


def plain_pillow(index: int) -> int:
    """An image.thumb job's work as one would write it with Pillow alone, from memory."""
    im = Image.open(io.BytesIO(_DATA[index % len(_DATA)]))
    im.draft("RGB", (800, 800))
    im = ImageOps.exif_transpose(im)
    for box in ((800, 800), (200, 200)):
        thumb = im.copy()
        thumb.thumbnail(box, reducing_gap=2.0)
        thumb.save(io.BytesIO(), "JPEG", quality=85)
    return index


def handler_pillow(index: int) -> int:
    """Exactly the Pillow work of the image.thumb handler (shared.images.imaging), from memory."""
    imaging.thumbnails(_DATA[index % len(_DATA)], "bench", {"small": (200, 200), "large": (800, 800)})
    return index


def _init(data: list[bytes]) -> None:
    _DATA[:] = data


def baseline(data: list[bytes], count: int, processes: int, work=handler_pillow) -> tuple[float, float]:
    """(thumbnail sets per second, CPU seconds per set), Pillow alone, in ``processes`` processes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with ProcessPoolExecutor(processes, initializer=_init, initargs=(data,)) as pool:
        list(pool.map(work, range(processes * 2)))  # warm up (imports, first decode)
        start = time.perf_counter()
        list(pool.map(work, range(count), chunksize=1))
        rate = count / (time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's processes, reaped
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return rate, cpu / (count + processes * 2)


def service_cpu(stack: BenchStack) -> dict[int, float]:
    """CPU seconds so far of every process serving this stack: gunicorn and celery (masters
    and children) and the PostgreSQL backends connected to its database (Redis, shared
    with other users of the server, is left out)."""
    pids = [pid for p in stack.procs.values() for pid in process_tree(p.pid)]
    pids += [int(row[0]) for row in stack.query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    return {pid: cpu_seconds([pid]) for pid in pids}


def through_service(stack: BenchStack, key: str, sources: list[dict]) -> tuple[float, float, int]:
    """(thumbnail sets per second, service CPU seconds per set, failures) for one batch;
    ``sources`` are each job's ``{"url": ...}`` or ``{"upload_id": ...}``."""
    auth = {"Authorization": f"Bearer {key}"}
    cpu_before = service_cpu(stack)
    body = {"jobs": [{"type": "image.thumb", "params": source} for source in sources]}
    made = requests.post(f"{stack.url}/v1/jobs", json=body, headers=auth, timeout=60).json()["jobs"]
    ids = [j["id"] for j in made]
    # The timing comes from the jobs' own timestamps, so the client just asks once a second
    # (a client waiting on each job would spend the API's CPU, which the workers share).
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        left = requests.get(f"{stack.url}/v1/jobs?type=image.thumb&status=queued&status=running&limit=1",
                            headers=auth, timeout=30).json()["jobs"]
        if not left:
            break
        time.sleep(1)
    cpu_after = service_cpu(stack)
    cpu = sum(v - cpu_before.get(pid, 0.0) for pid, v in cpu_after.items())
    (seconds, failed), = stack.query(
        "SELECT extract(epoch FROM max(finished_at) - min(created_at)), count(*) FILTER (WHERE status <> 'succeeded')"
        " FROM jobs WHERE public_id = ANY(%s::uuid[])", ids)
    return len(ids) / float(seconds), cpu / len(ids), int(failed)


def info_latency(stack: BenchStack, key: str, urls: list[str], count: int) -> dict[str, list[float]]:
    auth = {"Authorization": f"Bearer {key}"}
    out: dict[str, list[float]] = {"end to end (HTTP, wait=30)": [], "queued → started": [], "run (fetch + Pillow)": []}
    for i in range(count):
        start = time.perf_counter()
        job = requests.post(f"{stack.url}/v1/jobs?wait=30", json={"type": "image.info", "params": {"url": urls[i % len(urls)]}},
                            headers=auth, timeout=60).json()
        out["end to end (HTTP, wait=30)"].append(time.perf_counter() - start)
        assert job["status"] == "succeeded", job
        (queued, run), = stack.query("SELECT extract(epoch FROM started_at - queued_at), extract(epoch FROM finished_at - started_at)"
                                     " FROM jobs WHERE public_id = %s", job["id"])
        out["queued → started"].append(float(queued))
        out["run (fetch + Pillow)"].append(float(run))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=60, help="thumbnail jobs in the timed batch")
    ap.add_argument("--distinct", type=int, default=6, help="distinct photos (served under many URLs)")
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--workers", type=int, default=2, help="worker processes (and baseline processes)")
    ap.add_argument("--info", type=int, default=100, help="image.info requests for the latency figures")
    ap.add_argument("--rounds", type=int, default=3, help="alternating baseline/service rounds")
    args = ap.parse_args()

    width = int((args.megapixels * 1e6 * 4 / 3) ** 0.5)
    height = width * 3 // 4
    data = [images.jpeg(width, height, orientation=(1, 6)[i % 2], camera=True, seed=i) for i in range(args.distinct)]
    routes = {f"/p{i}.jpg": ("image/jpeg", d) for i, d in enumerate(data)}
    print(f"# image bench — {machine()}; load average before: {os.getloadavg()[0]:.1f}")
    print(f"# {args.images} JPEG photos of {width}x{height} ({sum(map(len, data)) / len(data) / 1e6:.1f} MB each, "
          f"{args.distinct} distinct), thumbnails 800 px + 200 px, {args.workers} worker processes\n")

    plain, _ = baseline(data, args.images, args.workers, plain_pillow)
    raw1, _ = baseline(data, max(args.images // 2, 10), 1)
    rounds: list[tuple[float, float, float, float]] = []
    failed = 0
    with images.image_server(routes) as base, BenchStack() as stack:
        stack.web(workers=1)
        stack.worker("images", args.workers)
        key = stack.key()
        auth = {"Authorization": f"Bearer {key}"}
        uploads = [requests.post(f"{stack.url}/v1/uploads", data=d, headers={**auth, "Content-Type": "image/jpeg"},
                                 timeout=60).json()["upload_id"] for d in data]
        through_service(stack, key, [{"url": f"{base}/p{i}.jpg?warm"} for i in range(args.workers * 2)])
        for r in range(args.rounds):
            rawn, raw_cpu = baseline(data, args.images, args.workers)
            urls = [{"url": f"{base}/p{i % args.distinct}.jpg?r={r}&n={i}"} for i in range(args.images)]
            service, service_cpu_per, bad = through_service(stack, key, urls)
            ups = [{"upload_id": uploads[i % args.distinct]} for i in range(args.images)]
            upload, upload_cpu_per, bad_up = through_service(stack, key, ups)
            rounds.append((rawn, service, raw_cpu, service_cpu_per, upload, upload_cpu_per))
            failed += bad + bad_up
        latency = info_latency(stack, key, [f"{base}/p{i}.jpg" for i in range(args.distinct)], args.info)

    print(f"# load average after: {os.getloadavg()[0]:.1f} (other work on this machine skews every figure)\n")
    best_raw, best_service, best_upload = (max(r[i] for r in rounds) for i in (0, 1, 4))
    raw_cpu, service_cpu_per, upload_cpu_per = (min(r[i] for r in rounds) for i in (2, 3, 5))
    print("| thumbnail sets per second | value | vs raw Pillow, same processes |")
    print("| --- | ---: | ---: |")
    print(f"| plain Pillow (Image.thumbnail), {args.workers} processes | {plain:.2f} | |")
    print(f"| handler's Pillow code, 1 process | {raw1:.2f} | |")
    for n, (rawn, service, _, _, upload, _) in enumerate(rounds, 1):
        print(f"| round {n}: Pillow alone / service (URL) / service (upload), {args.workers} processes "
              f"| {rawn:.2f} / {service:.2f} / {upload:.2f} | {service / rawn:.2f} / {upload / rawn:.2f} |")
    print(f"| handler's Pillow code alone, {args.workers} processes (best round: baseline) | {best_raw:.2f} | 1.00 |")
    print(f"| through the service, images by URL, {args.workers} worker processes (best round) | "
          f"{best_service:.2f} | **{best_service / best_raw:.2f}** |")
    print(f"| through the service, uploaded images, {args.workers} worker processes (best round) | "
          f"{best_upload:.2f} | **{best_upload / best_raw:.2f}** |")
    print("\n| CPU per thumbnail set (best round) | ms | Pillow share |")
    print("| --- | ---: | ---: |")
    print(f"| Pillow alone | {raw_cpu * 1000:.1f} | 1.00 |")
    print(f"| the service, images by URL: workers, gunicorn, PostgreSQL backends | {service_cpu_per * 1000:.1f} | "
          f"**{raw_cpu / service_cpu_per:.2f}** |")
    print(f"| the service, uploaded images | {upload_cpu_per * 1000:.1f} | **{raw_cpu / upload_cpu_per:.2f}** |")
    if failed:
        print(f"\n{failed} jobs did not succeed!")
    print(f"\n| image.info latency ({args.info} sequential requests) | p50 ms | p99 ms |")
    print("| --- | ---: | ---: |")
    for name, values in latency.items():
        print(f"| {name} | {percentile(values, 50) * 1000:.1f} | {percentile(values, 99) * 1000:.1f} |")


if __name__ == "__main__":
    main()
