"""The Flask application factory."""

from __future__ import annotations

from flask import Flask

from api import (
    access,
    apps,
    datasets,
    dialects,
    errors,
    files,
    hostile,
    jobs,
    ops,
    queues,
    requestlog,
    streams,
    uploads,
    usage,
)
from api.console import init_app as init_console
from api.waiter import Waiter
from shared.engine.runtime import Runtime
from shared.engine.settings import Settings


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    runtime = runtime or Runtime.build(settings)
    app = Flask("jobline")
    app.json.sort_keys = False
    app.config.update(
        API_TITLE="Jobline",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",  # api/ops.py serves them from swagger-ui-bundle
        MAX_CONTENT_LENGTH=runtime.settings.max_body_bytes,
        JSON_SORT_KEYS=False,
        API_SPEC_OPTIONS={
            "info": {"description": "One job engine, one canonical API, five dialects."},
            "components": {"securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "description": access.SECURITY_DESCRIPTION}}},
            "security": [{"bearer": []}],
        },
    )
    app.extensions["jobline"] = runtime
    waiter = app.extensions["jobline_waiter"] = Waiter(runtime.settings.database_url, runtime.store.watch)
    waiter.on_auth_change.append(runtime.accounts.forget_keys)
    runtime.accounts.cache_live = lambda: waiter.hears_auth_changes
    waiter.start()
    streams.init_app(app, runtime.settings)
    api = errors.JoblineApi(app, spec_kwargs={"extra_plugins": [access.AccessPlugin()]})
    app.extensions["jobline_api"] = api
    api.register_blueprint(jobs.blp)
    api.register_blueprint(files.blp)
    api.register_blueprint(apps.blp)
    api.register_blueprint(datasets.blp)
    api.register_blueprint(uploads.blp)
    api.register_blueprint(usage.blp)
    api.register_blueprint(queues.blp)
    dialects.init_app(app, api)
    app.register_blueprint(ops.blp)
    init_console(app, runtime)
    errors.init_app(app)  # after Api(), so these handlers replace flask-smorest's
    requestlog.init_app(app)
    hostile.init_app(app)  # its screen runs after the timer starts: refused requests are measured too
    access.init_app(app)  # after the screen: a key is looked for only in a request fit to read
    return app

