"""Everything a process needs, built once from settings and passed down explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery

from shared.accounts import Accounts
from shared.celery_app import make_celery
from shared.db import Database
from shared.dispatch import Dispatcher
from shared.jobs import JobService
from shared.jobstore import JobStore
from shared.registry import Registry, default_registry
from shared.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    celery: Celery
    registry: Registry
    dispatcher: Dispatcher
    jobs: JobService
    store: JobStore
    accounts: Accounts

    @classmethod
    def build(cls, settings: Settings | None = None, registry: Registry | None = None) -> Runtime:
        settings = settings or Settings.from_env()
        registry = registry or default_registry(settings.plugins)
        db = Database(settings.database_url, settings.db_pool_max)
        celery = make_celery(settings)
        dispatcher = Dispatcher(celery, registry)
        return cls(settings, db, celery, registry, dispatcher,
                   JobService(db, dispatcher, registry, settings), JobStore(db), Accounts(db))
