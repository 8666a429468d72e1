"""Group commit: concurrent creates share flushes, each gets its own rows or the error."""

from __future__ import annotations

import threading
import time

import pytest

from shared.groupcommit import GroupCommit


class Recorder:
    def __init__(self, delay: float = 0.05, fail_on: object = None) -> None:
        self.flushes: list[list] = []
        self.delay, self.fail_on = delay, fail_on

    def __call__(self, batches):
        self.flushes.append(batches)
        time.sleep(self.delay)  # the statement: others arrive meanwhile
        if any(self.fail_on in jobs for jobs in batches):
            raise RuntimeError("database said no")
        return [[{"job": j} for j in jobs] for jobs in batches]


def run_concurrently(group: GroupCommit, jobs_per_request: list[list]) -> list:
    results: list = [None] * len(jobs_per_request)
    barrier = threading.Barrier(len(jobs_per_request))

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = group.submit(jobs_per_request[i])
        except RuntimeError as exc:
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(jobs_per_request))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results


def test_alone_a_request_flushes_at_once():
    rec = Recorder(delay=0)
    group = GroupCommit(rec)
    assert group.submit(["a", "b"]) == [{"job": "a"}, {"job": "b"}]
    assert rec.flushes == [[["a", "b"]]]


def test_concurrent_requests_share_flushes_and_get_their_own_rows():
    rec = Recorder()
    group = GroupCommit(rec)
    requests = [[f"r{i}-{k}" for k in range(i % 3 + 1)] for i in range(40)]
    results = run_concurrently(group, requests)
    assert results == [[{"job": j} for j in jobs] for jobs in requests]
    assert len(rec.flushes) < 40  # they were grouped
    assert sorted(j for flush in rec.flushes for jobs in flush for j in jobs) == sorted(j for r in requests for j in r)


def test_a_failed_flush_fails_its_requests_only():
    rec = Recorder(fail_on="bad")
    group = GroupCommit(rec)
    results = run_concurrently(group, [["bad"], *[[f"ok{i}"] for i in range(10)]])
    failed_flush = next(f for f in rec.flushes if ["bad"] in f)
    for jobs, result in zip([["bad"], *[[f"ok{i}"] for i in range(10)]], results, strict=True):
        if jobs in failed_flush:
            assert isinstance(result, RuntimeError)
        else:
            assert result == [{"job": jobs[0]}]
    assert group.submit(["after"]) == [{"job": "after"}]  # not stuck


def test_leadership_is_handed_over_when_the_leader_raises():
    calls = []

    def flush(batches):
        calls.append(batches)
        if len(calls) == 1:
            time.sleep(0.05)
            raise KeyboardInterrupt  # even a BaseException hands over
        return [[1] * len(jobs) for jobs in batches]

    group = GroupCommit(flush)
    out: list = []
    leader = threading.Thread(target=lambda: out.append(pytest.raises(KeyboardInterrupt, group.submit, ["x"])))
    leader.start()
    time.sleep(0.01)
    assert group.submit(["y", "z"]) == [1, 1]
    leader.join(5)
    assert len(calls) == 2
