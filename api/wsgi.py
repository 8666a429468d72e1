"""WSGI entry point: ``gunicorn -c api/gunicorn_conf.py api.wsgi:app``.

The process's edge: the environment is read here, and logging set up as in the workers
(JSON lines on stderr at ``JOBLINE_LOG_LEVEL``).
"""

from api.app import create_app
from shared.engine.logs import configure_logging
from shared.engine.settings import Settings

settings = Settings.from_env()
configure_logging(settings.log_level)
app = create_app(settings)
