"""A chat's place in its flow, as a small JSON document stored on the chat row."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

STATE_VERSION = 1

ACTIVE = "active"  # the bot is talking (running or waiting for a reply)
HANDOFF = "handoff"  # handed to a human: the bot stays silent
CLOSED = "closed"


@dataclass(slots=True)
class Frame:
    """Where to come back to when a called flow returns."""

    flow: str
    version: str
    next: str


@dataclass(slots=True)
class ChatState:
    flow: str
    version: str  # content hash of the flow the chat started on
    step: str
    status: str = ACTIVE
    language: str = "es"
    stack: list[Frame] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0  # invalid replies to the current question
    reminders: int = 0  # reminders sent for the current wait
    deadline: float | None = None  # POSIX seconds when silence counts, or None
    customer: dict[str, Any] | None = None
    campaign: dict[str, Any] | None = None  # {"slug", "name"}
    candidates: list[dict[str, Any]] | None = None

    def copy(self) -> ChatState:
        """A copy whose mutable parts (slots, stack) can change without touching this one."""
        return ChatState(
            self.flow,
            self.version,
            self.step,
            self.status,
            self.language,
            list(self.stack),
            dict(self.slots),
            self.attempts,
            self.reminders,
            self.deadline,
            self.customer,
            self.campaign,
            self.candidates,
        )

    def to_json(self) -> dict[str, Any]:
        """A compact dict: defaults are left out."""
        data: dict[str, Any] = {
            "v": STATE_VERSION,
            "flow": self.flow,
            "version": self.version,
            "step": self.step,
        }
        if self.status != ACTIVE:
            data["status"] = self.status
        data["language"] = self.language
        if self.stack:
            data["stack"] = [[f.flow, f.version, f.next] for f in self.stack]
        if self.slots:
            data["slots"] = self.slots
        if self.attempts:
            data["attempts"] = self.attempts
        if self.reminders:
            data["reminders"] = self.reminders
        if self.deadline is not None:
            data["deadline"] = self.deadline
        if self.customer is not None:
            data["customer"] = self.customer
        if self.campaign is not None:
            data["campaign"] = self.campaign
        if self.candidates is not None:
            data["candidates"] = self.candidates
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatState:
        if data.get("v") != STATE_VERSION:
            raise ValueError(f"unsupported chat state version {data.get('v')!r}")
        return cls(
            flow=data["flow"],
            version=data["version"],
            step=data["step"],
            status=data.get("status", ACTIVE),
            language=data.get("language", "es"),
            stack=[Frame(*frame) for frame in data.get("stack", [])],
            slots=dict(data.get("slots", {})),
            attempts=data.get("attempts", 0),
            reminders=data.get("reminders", 0),
            deadline=data.get("deadline"),
            customer=data.get("customer"),
            campaign=data.get("campaign"),
            candidates=data.get("candidates"),
        )

    @classmethod
    def loads(cls, text: str) -> ChatState:
        return cls.from_json(json.loads(text))
