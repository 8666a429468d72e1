"""gunicorn settings: gevent workers, so open streams and blocking waits cost a greenlet each."""

import os
import shutil
import tempfile

# Every gunicorn worker counts into files here; /metrics adds them up. Set before any
# worker imports prometheus_client (the app is loaded after fork: no preload). A folder
# made here is this server's alone and removed when it exits (on_exit).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWN_METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="jobline-metrics-api-")
else:
    _OWN_METRICS_DIR = None

bind = os.environ.get("JOBLINE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gevent, answering over-long request lines in each surface's own error format (not HTML).
worker_class = "api.gunicorn_worker.Worker"
http_parser = "python"
# gunicorn's most: Dragon's GET /v1/status of api.hostile.MAX_GET_TASK_KEYS keys fits well within.
limit_request_line = 8190
# gunicorn's defaults, spelled out: api.hostile's message for a refused head quotes them.
limit_request_fields = 100
limit_request_field_size = 8190
worker_connections = int(os.environ.get("JOBLINE_WORKER_CONNECTIONS", "1000"))
timeout = 120
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app writes its own access log (api/requestlog.py), as JSON lines
# gunicorn's own lines (booting, worker timeouts) in the same JSON line format as the app's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "shared.engine.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": os.environ.get("JOBLINE_LOG_LEVEL", "INFO").upper(),
                           "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
    "root": {"handlers": ["stderr"], "level": os.environ.get("JOBLINE_LOG_LEVEL", "INFO").upper()},
}
# Header names with "_" collide with "-" names in the WSGI environ (X_Forwarded_For would read
# as X-Forwarded-For), so gunicorn drops them by default. Kasabi's clients send exactly one,
# X_KASABI_APIKEY. gunicorn has no per-header switch for a client that is not a trusted proxy
# (forwarder_headers applies only to forwarded_allow_ips), so its parser keeps them all and
# pre_request -- which runs before the environ is built -- drops every one but Kasabi's.
header_map = "dangerous"
UNDERSCORE_HEADERS_KEPT = frozenset({"X_KASABI_APIKEY"})


def pre_request(worker, req):
    req.headers = [(name, value) for name, value in req.headers
                   if "_" not in name or name in UNDERSCORE_HEADERS_KEPT]


def post_fork(server, worker):
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()  # psycopg2 waits cooperatively instead of blocking the whole worker


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)
