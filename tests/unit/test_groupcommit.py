"""Group commit: concurrent creates share flushes, each gets its own rows or the error."""

from __future__ import annotations

import threading
import time

import pytest

from shared.engine.groupcommit import GroupCommit


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


def test_a_refused_flush_is_retried_request_by_request_so_only_the_culprit_fails():
    """One request's value that PostgreSQL refuses (issue 21: other accounts' creates failed
    with it) fails that request alone; the others' rows are committed by the retries."""
    gate, flushes = threading.Event(), []

    def flush(batches):
        flushes.append(batches)
        if batches == [["gate"]]:
            gate.wait(10)  # everyone else queues up behind this flush
        if any("bad" in jobs for jobs in batches):
            raise RuntimeError("database said no")
        return [[{"job": j} for j in jobs] for jobs in batches]

    group = GroupCommit(flush, refused=(RuntimeError,))
    first = threading.Thread(target=group.submit, args=(["gate"],))
    first.start()
    while not flushes:
        time.sleep(0.001)
    requests = [["bad"], *[[f"ok{i}", f"ok{i}b"] for i in range(10)]]
    results: list = [None] * len(requests)

    def go(i: int) -> None:
        try:
            results[i] = group.submit(requests[i])
        except RuntimeError as exc:
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    while len(group._waiting) < len(requests):
        time.sleep(0.001)
    gate.set()
    for t in [first, *threads]:
        t.join(10)
    assert isinstance(results[0], RuntimeError)
    for jobs, result in zip(requests[1:], results[1:], strict=True):
        assert result == [{"job": j} for j in jobs]
    assert sorted(flushes[1]) == sorted(requests)  # they were grouped, the group refused ...
    assert [["bad"]] in flushes[2:]  # ... then each request went alone


def test_an_error_that_is_not_a_refusal_is_not_retried():
    """A flush that may have committed (an error after the INSERT) must not run twice."""
    rec = Recorder(fail_on="bad")
    group = GroupCommit(rec, refused=(KeyError,))
    requests = [["bad"], *[[f"ok{i}"] for i in range(10)]]
    run_concurrently(group, requests)
    flushed = [tuple(j) for f in rec.flushes for j in f]
    assert len(flushed) == len(set(flushed))  # no request's jobs were flushed twice
