"""Assignment policies: pure functions that order the eligible candidates, best first.

- least load (the default): lowest open/capacity, divided by the agent's weight (an agent of
  weight 2 is "half as loaded" with the same chats, so receives twice the share); ties go to
  whoever has waited longest since their last chat (never: longest of all), then lowest id.
- round robin: whoever has waited longest since their last chat, among those under
  capacity (eligibility already says so), then lowest id.

No I/O here: `assign.py` reads the candidates, these decide, and tests need no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from centralita.core.models import AssignmentPolicy

NEVER = datetime.min.replace(tzinfo=UTC)  # "never had a chat" waits longest of all


@dataclass(frozen=True, slots=True)
class Candidate:
    """An agent of the chat's campaign as the router saw them. `open` counts their open
    chats in every campaign; `recent` the chats the router gave them in the last minute."""

    agent_id: int
    email: str
    open: int
    capacity: int
    weight: int
    recent: int
    last_assigned_at: datetime | None
    # None: eligible; else inactive, offline, away, stale, full, per_minute_cap, or busy (in
    # the log: eligible, but held by a concurrent decision or changed as it was made)
    why_not: str | None
    last_seen_at: datetime | None = None  # the heartbeat judged (the guarded write checks it)

    @property
    def eligible(self) -> bool:
        return self.why_not is None

    @property
    def load(self) -> float:
        # Exact enough: for small integers equal ratios give equal floats, different ones
        # different floats, so ties are real ties.
        return self.open / (self.capacity * self.weight)

    def log_entry(self) -> dict[str, object]:
        return {
            "agent": self.email,
            "open": self.open,
            "capacity": self.capacity,
            "weight": self.weight,
            "load": round(self.load, 4),
            "last_minute": self.recent,
            "eligible": self.eligible,
            "why_not": self.why_not,
        }


def _waited(candidate: Candidate) -> datetime:
    return candidate.last_assigned_at or NEVER


def least_load_key(candidate: Candidate) -> tuple[float, datetime, int]:
    return (candidate.load, _waited(candidate), candidate.agent_id)


def round_robin_key(candidate: Candidate) -> tuple[datetime, int]:
    return (_waited(candidate), candidate.agent_id)


def rank(candidates: Iterable[Candidate], policy: AssignmentPolicy) -> list[Candidate]:
    """The eligible candidates, best first, under `policy`."""
    eligible = [c for c in candidates if c.eligible]
    if policy is AssignmentPolicy.ROUND_ROBIN:
        return sorted(eligible, key=round_robin_key)
    return sorted(eligible, key=least_load_key)


def explain(chosen: Candidate, candidates: Iterable[Candidate], policy: AssignmentPolicy) -> str:
    """Why `chosen` won, in one line for the assignment log."""
    everyone = list(candidates)
    eligible = sum(1 for c in everyone if c.eligible)
    waited = (
        "never had a chat"
        if chosen.last_assigned_at is None
        else f"last chat at {chosen.last_assigned_at.isoformat(timespec='seconds')}"
    )
    of = f"{eligible} eligible of {len(everyone)} agents"
    if policy is AssignmentPolicy.ROUND_ROBIN:
        return f"round robin: {chosen.email} waited longest ({waited}); {of}"
    return (
        f"least load: {chosen.email} at {chosen.open}/{chosen.capacity} open"
        f" (weight {chosen.weight}, load {chosen.load:.2f}; {waited}); {of}"
    )
