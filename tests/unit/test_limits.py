"""The per-job soft limit of jobs that share a message."""

from __future__ import annotations

import threading
import time

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from workers.limits import soft_limit


def test_raises_in_the_block_after_the_limit():
    started = time.monotonic()
    with pytest.raises(SoftTimeLimitExceeded), soft_limit(0.2):
        time.sleep(5)
    assert time.monotonic() - started < 2


def test_disarmed_after_the_block():
    with soft_limit(0.2):
        pass
    time.sleep(0.4)  # no alarm goes off later


def test_no_limit_off_the_main_thread():
    done = []

    def run():
        with soft_limit(0.05):
            time.sleep(0.2)
        done.append(True)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert done == [True]
