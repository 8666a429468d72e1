"""The Celery tasks: thin wrappers that hand a job id to the runner."""

from __future__ import annotations

from celery import Celery

from shared.celery_app import RUN_JOB
from workers.runner import Runner


def register(celery: Celery, runner: Runner) -> None:
    @celery.task(name=RUN_JOB, bind=True, ignore_result=True)
    def run_job(self, job_id: int) -> str:
        return runner.run(int(job_id), self.request.id)
