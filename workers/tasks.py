"""The Celery tasks: thin wrappers that hand job ids to the runner (one, or a pack)."""

from __future__ import annotations

from celery import Celery

from shared.celery_app import RUN_JOB
from workers.runner import Runner


def register(celery: Celery, runner: Runner) -> None:
    @celery.task(name=RUN_JOB, bind=True, ignore_result=True)
    def run_job(self, *job_ids: int) -> list[str]:
        return runner.run_pack([int(j) for j in job_ids], self.request.id)
