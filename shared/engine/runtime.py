"""Everything a process needs, built once from settings and passed down explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from celery import Celery

from shared.engine.accounts import Accounts
from shared.engine.celery_app import make_celery
from shared.engine.db import Database
from shared.engine.dispatch import Waker
from shared.engine.fetch import Policy
from shared.engine.files import FileService
from shared.engine.jobs import JobService
from shared.engine.jobstore import JobStore
from shared.engine.registry import Registry, default_registry
from shared.engine.settings import Settings
from shared.engine.storage import Signer, open_store


@dataclass
class Runtime:
    settings: Settings
    db: Database
    celery: Celery
    registry: Registry
    waker: Waker
    jobs: JobService
    store: JobStore
    accounts: Accounts

    @cached_property
    def files(self) -> FileService:
        secret = self.settings.secret_key or self.db.one("signing_key")["value"]
        store = open_store(self.settings.storage_url, self.settings.s3_endpoint)
        return FileService(self.db, store, Signer(secret.encode()), self.settings.url_ttl_s)

    @cached_property
    def fetch_policy(self) -> Policy:
        return Policy.from_setting(self.settings.fetch_allow, max_bytes=self.settings.fetch_max_bytes,
                                   read_timeout=self.settings.fetch_timeout_s)

    @classmethod
    def build(cls, settings: Settings | None = None, registry: Registry | None = None) -> Runtime:
        settings = settings or Settings.from_env()
        registry = registry or default_registry(settings.plugins)
        db = Database(settings.database_url, settings.db_pool_max)
        celery = make_celery(settings)
        waker = Waker(settings, celery)
        runtime = cls(settings, db, celery, registry, waker, None, JobStore(db), Accounts(db))  # type: ignore[arg-type]
        runtime.jobs = JobService(db, waker, registry, settings, lambda: runtime.files)
        return runtime
