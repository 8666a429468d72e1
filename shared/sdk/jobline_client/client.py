"""A Python client of the canonical API (``/v1``), on ``requests`` only.

    from jobline_client.client import Client
    with Client() as jl:                      # JOBLINE_URL, JOBLINE_API_KEY
        job = jl.create("hello", {"name": "John"})
        done = jl.wait(job["id"], on_progress=lambda f, m: print(f, m))

Every failure is an ``ApiError``: the API's error JSON (status, message, errors), or status 0
when the server cannot be reached or does not answer in time.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from datetime import datetime
from typing import Any

import requests
import urllib3

Json = dict[str, Any]
Jobs = list[Json]
CONNECT_TIMEOUT_S = 5.0
READ_SLACK_S = 10.0
STREAM_READ_S = 25.0  # the server sends a keep-alive every 15 s
DEFAULT_URL = "http://127.0.0.1:8000"


class ApiError(Exception):
    """An error answer of the API (``status`` 0: the server could not be reached)."""

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status, self.message, self.errors = status, message, errors or []

    @classmethod
    def from_response(cls, resp: requests.Response) -> ApiError:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("message"):
            return cls(resp.status_code, str(body["message"]), body.get("errors") or [])
        return cls(resp.status_code, resp.text.strip() or resp.reason or f"HTTP {resp.status_code}")


class Client:
    def __init__(self, url: str | None = None, api_key: str | None = None,
                 session: requests.Session | None = None) -> None:
        self.url = (url or os.environ.get("JOBLINE_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("JOBLINE_API_KEY")
        self.session = session or requests.Session()
        self.session.headers["Accept"] = "application/json"
        if self.api_key:
            self.session.headers["Authorization"] = f"Bearer {self.api_key}"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    # -- transport ---------------------------------------------------------------------------
    def _send(self, method: str, path: str, *, wait: float | None = None, read: float | None = None,
              stream: bool = False, **kw: Any) -> requests.Response:
        url = self.url + path
        read = read if read is not None else (wait or 0) + READ_SLACK_S
        if wait:
            kw["params"] = {**kw.get("params", {}), "wait": f"{wait:g}"}
        try:
            resp = self.session.request(method, url, timeout=(CONNECT_TIMEOUT_S, read), stream=stream, **kw)
        except requests.Timeout as exc:
            raise ApiError(0, f"no answer from Jobline at {url} ({exc.__class__.__name__})") from exc
        except requests.RequestException as exc:
            reason = str(getattr(exc.args[0], "reason", exc.args[0]) if exc.args else exc)
            errno = re.search(r"\[Errno -?\d+\] ([^)\]]+)", reason)  # e.g. "Connection refused"
            reason = errno.group(1) if errno else reason
            raise ApiError(0, f"cannot reach Jobline at {url}: {reason}") from exc
        if resp.status_code >= 400:
            with resp:
                raise ApiError.from_response(resp)
        return resp

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        resp = self._send(method, path, **kw)
        return resp.json() if resp.content else None

    # -- jobs -----------------------------------------------------------------------------------
    def create(self, type: str, params: Json | None = None, *, start_at: str | datetime | None = None,
               callback_url: str | None = None, metadata: Json | None = None, priority: int | None = None,
               max_attempts: int | None = None, wait: float | None = None,
               idempotency_key: str | None = None) -> Json:
        job: Json = {"type": type, "params": params or {}}
        if isinstance(start_at, datetime):
            start_at = start_at.isoformat()
        extra = {"start_at": start_at, "callback_url": callback_url, "metadata": metadata,
                 "priority": priority, "max_attempts": max_attempts}
        job.update({k: v for k, v in extra.items() if v is not None})
        return self._post_jobs(job, wait, idempotency_key)

    def create_batch(self, jobs: Jobs, wait: float | None = None, idempotency_key: str | None = None) -> Jobs:
        return self._post_jobs({"jobs": jobs}, wait, idempotency_key)["jobs"]

    def _post_jobs(self, body: Json, wait: float | None, idempotency_key: str | None) -> Json:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._json("POST", "/v1/jobs", json=body, wait=wait, headers=headers)

    def get(self, job_id: str, wait: float | None = None) -> Json:
        return self._json("GET", f"/v1/jobs/{job_id}", wait=wait)

    def list(self, status: str | Sequence[str] | None = None, type: str | None = None, limit: int = 50,
             cursor: str | None = None, created_after: str | None = None,
             created_before: str | None = None) -> Json:
        query = {"status": [status] if isinstance(status, str) else status, "type": type, "limit": limit,
                 "cursor": cursor, "created_after": created_after, "created_before": created_before}
        return self._json("GET", "/v1/jobs", params={k: v for k, v in query.items() if v is not None})

    def iter_jobs(self, status: str | Sequence[str] | None = None, type: str | None = None, limit: int = 50,
                  **filters: str | None) -> Iterator[Json]:
        """Every matching job, newest first, fetching pages of ``limit`` as needed."""
        cursor = None
        while True:
            page = self.list(status, type, limit, cursor, **filters)
            yield from page["jobs"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def cancel(self, job_id: str) -> Json:
        return self._json("POST", f"/v1/jobs/{job_id}/cancel")

    def restart(self, job_id: str) -> Json:
        return self._json("POST", f"/v1/jobs/{job_id}/restart")

    def delete(self, job_id: str) -> None:
        self._send("DELETE", f"/v1/jobs/{job_id}").close()

    def events(self, job_id: str) -> Jobs:
        return self._json("GET", f"/v1/jobs/{job_id}/events")

    def job_types(self) -> Jobs:
        return self._json("GET", "/v1/job-types")

    def queues(self) -> Json:
        """``{"queues": [...], "workers": [...]}``: your jobs in flight per queue, the workers running them."""
        return self._json("GET", "/v1/queues")

    # -- apps and callbacks ----------------------------------------------------------------------
    def create_app(self, name: str, type: str, params: Json | None = None, *, callback_url: str | None = None,
                   input_map: dict[str, str] | None = None) -> Json:
        """An app: job type ``type`` with default ``params``; ``input_map`` renames input keys."""
        body: Json = {"name": name, "type": type, "params": params or {}}
        if callback_url is not None:
            body["callback_url"] = callback_url
        if input_map:
            body["input_map"] = input_map
        return self._json("POST", "/v1/apps", json=body)

    def list_apps(self) -> Jobs:
        return self._json("GET", "/v1/apps")["apps"]

    def get_app(self, app_id: str) -> Json:
        return self._json("GET", f"/v1/apps/{app_id}")

    def delete_app(self, app_id: str) -> None:
        self._send("DELETE", f"/v1/apps/{app_id}").close()

    def deliveries(self, job_id: str) -> Jobs:
        """The job's callback deliveries, each with every attempt."""
        return self._json("GET", f"/v1/jobs/{job_id}/deliveries")

    def redeliver(self, job_id: str, delivery_id: str) -> Json:
        """Send a delivered or given-up callback delivery again now (409 while it is pending)."""
        return self._json("POST", f"/v1/jobs/{job_id}/deliveries/{delivery_id}:redeliver")

    def webhook(self) -> Json:
        """The account's default callback URL and when its signing secret was last rotated."""
        return self._json("GET", "/v1/webhook")

    def set_webhook(self, default_callback_url: str | None) -> Json:
        """Set (``None``: remove) the default callback URL."""
        return self._json("PUT", "/v1/webhook", json={"default_callback_url": default_callback_url})

    def rotate_webhook_secret(self) -> Json:
        """A new signing secret (``whsec_...``): the only time it is shown."""
        return self._json("POST", "/v1/webhook/secret:rotate")

    # -- events as they happen -----------------------------------------------------------------
    def stream_events(self, job_id: str, last_event_id: str | int | None = None,
                      read_timeout: float = STREAM_READ_S) -> Iterator[Json]:
        """Server-Sent Events: ``{"id", "event", "data"}`` (data parsed as JSON when it is).

        Returns after the server's ``end`` event (not yielded); a stream that breaks before it
        raises ``ApiError`` with status 0, so the caller may resume from the last id it saw.
        """
        return (ev for ev in self._sse(job_id, last_event_id, read_timeout) if ev is not None)

    def _sse(self, job_id: str, last_event_id: str | int | None, read_timeout: float) -> Iterator[Json | None]:
        """As ``stream_events``, plus ``None`` for each comment (the server's keep-alives)."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        path = f"/v1/jobs/{job_id}/events"
        with self._send("GET", path, headers=headers, stream=True, read=read_timeout) as resp:
            event: Json = {"id": None, "event": "message"}
            data: list[str] = []
            try:
                for line in _lines(resp):
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if line and not field:
                        yield None
                    elif field == "data":
                        data.append(value)
                    elif field in ("id", "event"):
                        event[field] = value  # "retry" and unknown fields: ignored
                    elif not line and data:
                        try:
                            event["data"] = json.loads("\n".join(data))
                        except ValueError:
                            event["data"] = "\n".join(data)
                        if event["event"] == "end":
                            return
                        yield event
                    if not line:
                        event, data = {"id": event["id"], "event": "message"}, []
            except requests.RequestException as exc:
                raise ApiError(0, f"event stream from {self.url + path} broke: {exc}") from exc
        raise ApiError(0, f"event stream from {self.url + path} closed before its end")

    def wait(self, job_id: str, timeout: float | None = None,
             on_progress: Callable[[float, str | None], Any] | None = None) -> Json:
        """Follow the job's events to its end and return it; ``TimeoutError`` after ``timeout`` s.

        A broken stream is resumed from the last event seen (up to 3 times in a row).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        last_id, failures = None, 0
        while True:
            left = STREAM_READ_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"job {job_id} did not finish within {timeout} s")
            try:
                with closing(self._sse(job_id, last_id, min(STREAM_READ_S, left) + 0.1)) as stream:
                    for ev in stream:
                        if ev is None:  # keep-alive: reconnect, so the read timeout fits what is left
                            if deadline is not None:
                                break
                            continue
                        last_id, failures = ev["id"] or last_id, 0
                        info = ev["data"].get("data") if isinstance(ev["data"], dict) else None
                        if ev["event"] == "progress" and on_progress and isinstance(info, dict):
                            on_progress(float(info.get("progress") or 0), info.get("message"))
                        if deadline is not None and time.monotonic() > deadline:
                            break
                    else:
                        return self.get(job_id)
            except ApiError as exc:
                failures += 1
                if exc.status != 0 or (failures > 3 and (deadline is None or time.monotonic() < deadline)):
                    raise
                time.sleep(min(0.2 * failures, max(left, 0)))


def _lines(resp: requests.Response) -> Iterator[str]:
    """The body's lines as they arrive (``\\n`` or ``\\r\\n`` endings)."""
    buf = b""
    for chunk in _chunks(resp):
        buf += chunk
        *lines, buf = buf.replace(b"\r\n", b"\n").split(b"\n")
        yield from (line.rstrip(b"\r").decode("utf-8", "replace") for line in lines)
    if buf:
        yield buf.decode("utf-8", "replace")


def _chunks(resp: requests.Response) -> Iterator[bytes]:
    """Bytes as soon as they arrive, even from a stream with neither length nor chunks."""
    if not hasattr(resp.raw, "read1"):  # urllib3 < 2.3
        yield from resp.iter_content(chunk_size=1)
        return
    try:
        while chunk := resp.raw.read1(65536, decode_content=True):
            yield chunk
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise requests.ConnectionError(exc) from exc
