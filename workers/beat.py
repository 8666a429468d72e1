"""A celery beat scheduler that also runs the engine's maintenance tick in-process.

``celery -A workers.app beat -S workers.beat:JoblineScheduler``. Running the tick inside
beat (not as a task) costs no message per second and cannot queue up behind slow jobs.
"""

from __future__ import annotations

import logging

from celery.beat import Scheduler

from workers import alive
from workers.maintenance import Maintainer

log = logging.getLogger("jobline.beat")


class JoblineScheduler(Scheduler):
    def setup_schedule(self) -> None:
        super().setup_schedule()
        self.maintainer = Maintainer(self.app.jobline_runtime)

    def tick(self, *args, **kwargs) -> float:
        next_in = super().tick(*args, **kwargs)
        alive.touch(self.app.jobline_runtime.settings.alive_file)  # liveness: this loop turns
        try:
            self.maintainer.tick()
        except Exception:  # noqa: BLE001 - a database blip must not stop beat
            log.exception("maintenance tick failed; retrying next tick")
        return min(next_in, self.app.jobline_runtime.settings.beat_interval_s)
