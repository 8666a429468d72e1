"""Configuration: read the environment once, into one immutable object.

Every variable is listed in ``VARIABLES`` with its default and meaning; the README's
configuration table and ``jobline config`` are printed from it, so they cannot drift.
Tests build their own ``Settings`` instead of patching the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

#: (environment variable, attribute, description); defaults are the dataclass defaults.
VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("DATABASE_URL", "database_url", "PostgreSQL URL (the source of truth). Empty: `jobline up` starts an embedded server."),
    ("REDIS_URL", "redis_url", "Redis URL (the Celery broker; messages only). Empty: `jobline up` starts an embedded server."),
    ("JOBLINE_REDIS_PREFIX", "redis_prefix", "Prefix of every broker key and channel, so deployments can share one Redis."),
    ("JOBLINE_DB_POOL_MAX", "db_pool_max", "Connections per process in the PostgreSQL pool."),
    ("JOBLINE_MAX_BATCH", "max_batch", "Most jobs accepted in one `POST /v1/jobs` batch."),
    ("JOBLINE_MAX_BODY_BYTES", "max_body_bytes", "Largest request body accepted (413 above)."),
    ("JOBLINE_MAX_STREAMS_PER_ACCOUNT", "max_streams_per_account", "Open event streams (SSE, Dragon NDJSON) one account may hold per API process; 429 beyond."),
    ("JOBLINE_MAX_STREAMS", "max_streams", "Open event streams of all accounts together per API process (keep below JOBLINE_WORKER_CONNECTIONS); 429 beyond."),
    ("JOBLINE_MAX_LOAD_BYTES", "max_load_bytes", "Largest N-Triples body of a dataset load, streamed (Turtle is parsed in memory up to `JOBLINE_MAX_BODY_BYTES`; above, it must be N-Triples)."),
    ("JOBLINE_MAX_WAIT_S", "max_wait_s", "Cap on `?wait=N` and blocking calls, in seconds."),
    ("JOBLINE_PREFETCH", "prefetch", "Celery worker prefetch multiplier (wake-ups and callback messages reserved per process)."),
    ("JOBLINE_VISIBILITY_TIMEOUT_S", "visibility_timeout_s", "Redis visibility timeout: a message a dead worker had reserved is redelivered after this (no job waits on it)."),
    ("JOBLINE_REDISPATCH_AFTER_S", "redispatch_after_s", "A queue's wake-up slot (or a callback message) still pending after this is published again."),
    ("JOBLINE_HEARTBEAT_S", "heartbeat_s", "How often a running job's worker writes its heartbeat."),
    ("JOBLINE_REAP_AFTER_S", "reap_after_s", "A claim's lease: a running job whose heartbeat is older than this is claimed again (or failed once its attempts are spent)."),
    ("JOBLINE_CANCEL_GRACE_S", "cancel_grace_s", "After a cancel, a running handler has this long to stop before it is terminated."),
    ("JOBLINE_BEAT_INTERVAL_S", "beat_interval_s", "Beat tick: queue due scheduled jobs, wake queues with claimable jobs, fail dead ones, prune."),
    ("JOBLINE_IDEMPOTENCY_TTL_S", "idempotency_ttl_s", "How long an Idempotency-Key is remembered."),
    ("JOBLINE_RETENTION_DAYS", "retention_days", "Finished jobs (with their events, files and callback deliveries) are deleted this many days after they finished; 0 keeps them."),
    ("JOBLINE_RETRY_BASE_S", "retry_base_s", "First retry delay of a transient error; doubles each attempt."),
    ("JOBLINE_RETRY_MAX_S", "retry_max_s", "Longest retry delay."),
    ("JOBLINE_STORAGE_URL", "storage_url", "Object store for files: `file:///abs/folder`, or `s3://bucket/prefix` (needs the `[s3]` extra, boto3; the Docker image has it)."),
    ("JOBLINE_S3_ENDPOINT", "s3_endpoint", "S3-compatible endpoint URL (MinIO, R2, ...); unset: AWS S3. Credentials and region from the usual `AWS_*` variables (or the pod's cloud identity)."),
    ("JOBLINE_SECRET_KEY", "secret_key", "Signs download links. Unset: a random key kept in the database."),
    ("JOBLINE_URL_TTL_S", "url_ttl_s", "Lifetime of signed download links, in seconds."),
    ("JOBLINE_PUBLIC_URL", "public_url", "Base URL of the API as clients see it (for links); unset: the request's host."),
    ("JOBLINE_FETCH_ALLOW", "fetch_allow", "CIDRs or hosts exempt from the SSRF guard on fetched URLs (e.g. `127.0.0.0/8` in tests)."),
    ("JOBLINE_FETCH_MAX_BYTES", "fetch_max_bytes", "Largest body fetched from a user's URL."),
    ("JOBLINE_FETCH_TIMEOUT_S", "fetch_timeout_s", "Read timeout when fetching a user's URL (connect: 5 s)."),
    ("JOBLINE_LOG_LEVEL", "log_level", "Log level of every process."),
    ("JOBLINE_METRICS_TOKEN", "metrics_token", "If set, the API's /metrics answers only `Authorization: Bearer <this token>` (401 otherwise). Unset: open, like /healthz."),
    ("JOBLINE_WORKER_METRICS_PORT", "worker_metrics_port", "If set (not 0), the workers of a host serve /metrics for all of them on this port: one binds it, the others stand by (multiprocess mode, one folder per host and port)."),
    ("JOBLINE_ALIVE_FILE", "alive_file", "If set, workers' event loops and beat's tick touch this file; `python -m workers.alive [max_age_s]` is their liveness probe."),
    ("JOBLINE_WORKER_METRICS_ADDR", "worker_metrics_addr", "Address the worker metrics port binds; `0.0.0.0` in a container so Prometheus can reach it."),
    ("JOBLINE_PLUGINS", "plugins", "Comma-separated modules whose `JOB_TYPES` list adds job types (API, workers and beat alike)."),
    ("JOBLINE_CALLBACK_MAX_AGE_S", "callback_max_age_s", "A callback is retried (exponential backoff, jitter) until this old, then given up."),
    ("JOBLINE_CALLBACK_RETRY_BASE_S", "callback_retry_base_s", "First retry delay of a failed callback; doubles each attempt."),
    ("JOBLINE_CALLBACK_RETRY_MAX_S", "callback_retry_max_s", "Longest delay between two attempts of a callback."),
    ("JOBLINE_CALLBACK_TIMEOUT_S", "callback_timeout_s", "Read timeout of one callback attempt (HTTP or SMTP); a slower receiver fails that attempt."),
    ("JOBLINE_SMTP_HOST", "smtp_host", "SMTP server for callbacks to email addresses. Empty: email callbacks are refused (400)."),
    ("JOBLINE_SMTP_PORT", "smtp_port", "SMTP server port."),
    ("JOBLINE_SMTP_FROM", "smtp_from", "Sender address of callback emails."),
    ("JOBLINE_SMTP_USER", "smtp_user", "SMTP login (optional)."),
    ("JOBLINE_SMTP_PASSWORD", "smtp_password", "SMTP password (optional)."),
    ("JOBLINE_SMTP_STARTTLS", "smtp_starttls", "1: upgrade the SMTP connection with STARTTLS before logging in."),
    ("JOBLINE_DEFAULT_CREDITS", "default_credits", "Credits of an account that was never charged or granted any (media jobs cost 1 per image)."),
)


@dataclass(frozen=True)
class Settings:
    database_url: str = "postgresql://127.0.0.1:5432/jobline"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = ""
    db_pool_max: int = 10
    max_batch: int = 1000
    max_body_bytes: int = 10 * 1024 * 1024
    max_streams_per_account: int = 100
    max_streams: int = 800
    max_load_bytes: int = 1024 * 1024 * 1024
    max_wait_s: float = 60
    prefetch: int = 1
    visibility_timeout_s: int = 3600
    redispatch_after_s: float = 30
    heartbeat_s: float = 5
    reap_after_s: float = 60
    cancel_grace_s: float = 10
    beat_interval_s: float = 1
    idempotency_ttl_s: int = 86400
    retention_days: float = 7
    retry_base_s: float = 2
    retry_max_s: float = 300
    storage_url: str = "file://.jobline/objects"
    s3_endpoint: str = ""
    secret_key: str = ""
    url_ttl_s: int = 3600
    public_url: str = ""
    fetch_allow: str = ""
    fetch_max_bytes: int = 50 * 1024 * 1024
    fetch_timeout_s: float = 30
    log_level: str = "INFO"
    metrics_token: str = ""
    worker_metrics_port: int = 0
    worker_metrics_addr: str = "127.0.0.1"
    alive_file: str = ""
    plugins: str = ""
    callback_max_age_s: float = 86400
    callback_retry_base_s: float = 10
    callback_retry_max_s: float = 3600
    callback_timeout_s: float = 10
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "jobline@localhost"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: int = 0
    default_credits: int = 100

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, object] = {}
        for var, attr, _doc in VARIABLES:
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            kind = types[attr]
            values[attr] = int(raw) if kind == "int" else float(raw) if kind == "float" else raw
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a child process."""
        return {var: str(getattr(self, attr)) for var, attr, _doc in VARIABLES}

    @classmethod
    def table(cls) -> list[tuple[str, str, str]]:
        """(variable, default, description) rows for docs and `jobline config`."""
        defaults = {f.name: f.default for f in fields(cls)}
        return [(var, str(defaults[attr]), doc) for var, attr, doc in VARIABLES]
