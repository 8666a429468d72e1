"""The state machine: every pair of states, every transition."""

from itertools import product

from hypothesis import given
from hypothesis import strategies as st

from shared.engine import states
from shared.engine.states import TERMINAL, TRANSITIONS, Status, allowed_moves, can_move

EXPECTED = {
    ("scheduled", "queued"), ("queued", "running"), ("running", "succeeded"), ("running", "failed"),
    ("running", "queued"), ("scheduled", "canceled"), ("queued", "canceled"), ("running", "canceled"),
    ("succeeded", "queued"), ("failed", "queued"), ("canceled", "queued"),
}


def test_allowed_moves_are_exactly_the_design():
    assert {(a.value, b.value) for a, b in allowed_moves()} == EXPECTED


def test_every_pair_of_states():
    for a, b in product(Status, Status):
        assert can_move(a, b) == ((a.value, b.value) in EXPECTED), (a, b)


def test_terminal_states_only_leave_by_restart():
    for t in TRANSITIONS:
        if t.sources & TERMINAL:
            assert t is states.RESTART
    assert states.RESTART.sources == TERMINAL and states.RESTART.target is Status.QUEUED


def test_nothing_moves_into_scheduled_and_running_only_by_claim():
    assert not any(t.target is Status.SCHEDULED for t in TRANSITIONS)
    assert [t.name for t in TRANSITIONS if t.target is Status.RUNNING] == ["claim"]


def test_source_names_are_sorted_values():
    assert states.CANCEL.source_names == ["queued", "running", "scheduled"]


@given(st.lists(st.sampled_from(TRANSITIONS), max_size=30))
def test_any_walk_of_allowed_transitions_stays_consistent(walk):
    """Applying transitions only when allowed never reaches an unknown state; terminal is sticky except restart."""
    status = Status.QUEUED
    for t in walk:
        if status in t.sources:
            assert can_move(status, t.target)
            if status.terminal:
                assert t is states.RESTART
            status = t.target
    assert status in set(Status)
