"""Least load (by weight, ties to whoever waited longest) and round robin; fairness over
many handoffs."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from centralita.core.models import AssignmentPolicy, ChatStatus
from centralita.routing.policies import Candidate, explain, rank
from tests.routing.conftest import NOW, World

LEAST = AssignmentPolicy.LEAST_LOAD
ROBIN = AssignmentPolicy.ROUND_ROBIN


def cand(
    agent_id: int,
    open: int = 0,
    capacity: int = 5,
    weight: int = 1,
    last: datetime | None = None,
    why_not: str | None = None,
) -> Candidate:
    return Candidate(agent_id, f"a{agent_id}@x.co", open, capacity, weight, 0, last, why_not)


def ids(ranked: list[Candidate]) -> list[int]:
    return [c.agent_id for c in ranked]


def test_least_load_is_open_over_capacity() -> None:
    assert ids(rank([cand(1, open=1, capacity=2), cand(2, open=2, capacity=10)], LEAST)) == [2, 1]


def test_weight_divides_the_load() -> None:
    # 2/5 at weight 2 is "0.2", as loaded as 1/5 at weight 1: a tie, to who waited longest.
    heavy = cand(1, open=2, weight=2, last=NOW - timedelta(minutes=5))
    light = cand(2, open=1, weight=1, last=NOW - timedelta(minutes=1))
    assert ids(rank([light, heavy], LEAST)) == [1, 2]
    assert ids(rank([cand(1, open=3, weight=2), cand(2, open=1)], LEAST)) == [2, 1]


def test_ties_go_to_whoever_waited_longest_never_first_then_lowest_id() -> None:
    ranked = rank(
        [
            cand(1, last=NOW - timedelta(minutes=1)),
            cand(2, last=NOW - timedelta(minutes=9)),
            cand(3),
            cand(4),
        ],
        LEAST,
    )
    assert ids(ranked) == [3, 4, 2, 1]


def test_only_eligible_candidates_are_ranked() -> None:
    assert ids(rank([cand(1, why_not="away"), cand(2, open=4)], LEAST)) == [2]
    assert rank([cand(1, why_not="full")], ROBIN) == []


def test_round_robin_ignores_load_and_takes_the_longest_waiting() -> None:
    ranked = rank(
        [
            cand(1, open=0, last=NOW - timedelta(minutes=1)),
            cand(2, open=4, last=NOW - timedelta(minutes=3)),
            cand(3, open=0, last=NOW - timedelta(minutes=2)),
        ],
        ROBIN,
    )
    assert ids(ranked) == [2, 3, 1]


def test_explain() -> None:
    chosen = cand(1, open=1, capacity=4, weight=2)
    text = explain(chosen, [chosen, cand(2, why_not="away")], LEAST)
    assert text == (
        "least load: a1@x.co at 1/4 open (weight 2, load 0.12; never had a chat);"
        " 1 eligible of 2 agents"
    )
    assert explain(chosen, [chosen], ROBIN) == (
        "round robin: a1@x.co waited longest (never had a chat); 1 eligible of 1 agents"
    )


# -- through the database ---------------------------------------------------------------------


def test_round_robin_takes_turns(world: World) -> None:
    world.campaign("cobranza", policy=ROBIN, cap=100)
    for name in ("a", "b", "c"):
        world.agent(f"{name}@example.com", "cobranza", capacity=10)
    world.chat("cobranza", status=ChatStatus.ASSIGNED, agent="a@example.com")  # load ignored
    order = [world.handoff("cobranza", NOW + timedelta(milliseconds=i)) for i in range(6)]
    assert order == ["a@example.com", "b@example.com", "c@example.com"] * 2
    assert world.log()[0].policy == "round_robin"


def test_least_load_over_many_handoffs_keeps_loads_within_one(world: World) -> None:
    world.campaign("cobranza", cap=1000)
    for name in ("a", "b", "c", "d"):
        world.agent(f"{name}@example.com", "cobranza", capacity=50)
    for i in range(120):
        assert world.handoff("cobranza", NOW + timedelta(milliseconds=i)) is not None
        loads = world.loads().values()
        assert max(loads) - min(loads) <= 1
    assert set(world.loads().values()) == {30}


def test_least_load_with_closes_always_picks_a_least_loaded_agent(world: World) -> None:
    world.campaign("cobranza", cap=1000)
    for name in ("a", "b", "c"):
        world.agent(f"{name}@example.com", "cobranza", capacity=8)
    rng = random.Random(4)
    held: list[int] = []
    for i in range(150):
        now = NOW + timedelta(milliseconds=i)
        if held and rng.random() < 0.45:
            world.close(held.pop(rng.randrange(len(held))))
            continue
        before = world.loads()
        chat_id = world.chat("cobranza")
        assignment = world.assign(chat_id, now)
        if min(before.values()) >= 8:
            assert assignment is None
            world.close(chat_id)
            continue
        assert assignment is not None
        assert before[world.email(assignment.agent_id) or ""] == min(before.values())
        held.append(chat_id)


def test_weights_share_the_chats_proportionally(world: World) -> None:
    world.campaign("cobranza", cap=1000)
    world.agent("double@example.com", "cobranza", capacity=30, weight=2)
    world.agent("single@example.com", "cobranza", capacity=30, weight=1)
    for i in range(30):
        world.handoff("cobranza", NOW + timedelta(milliseconds=i))
    assert world.loads() == {"double@example.com": 20, "single@example.com": 10}


def test_unequal_capacities_fill_in_proportion(world: World) -> None:
    world.campaign("cobranza", cap=1000)
    world.agent("big@example.com", "cobranza", capacity=10)
    world.agent("small@example.com", "cobranza", capacity=5)
    for i in range(12):
        world.handoff("cobranza", NOW + timedelta(milliseconds=i))
    assert world.loads() == {"big@example.com": 8, "small@example.com": 4}
