"""What the engine asks the world to do. The engine decides; adapters carry these out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Send:
    """An outgoing bot message (text, and optionally one media URL)."""

    text: str
    media: str | None = None


@dataclass(frozen=True, slots=True)
class SetSlots:
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Lookup:
    """A customer lookup happened (for the audit trail): its document and outcome."""

    document: str
    outcome: str  # found | not_found | ambiguous | error
    campaigns: tuple[str, ...] = ()  # the campaigns of the candidates found


@dataclass(frozen=True, slots=True)
class SelectCustomer:
    """The chat now belongs to this customer of this campaign."""

    campaign: str
    document: str


@dataclass(frozen=True, slots=True)
class Handoff:
    """Queue the chat for a human agent; the bot stays silent from now on."""

    campaign: str | None
    priority: int = 0
    tags: tuple[str, ...] = ()
    reason: str = "flow"  # flow | exhausted | timeout | flow_error


@dataclass(frozen=True, slots=True)
class Close:
    """Close the chat; `text` is the closing message for the customer."""

    reason: str = "bot_completed"
    text: str | None = None


@dataclass(frozen=True, slots=True)
class FlowError:
    """A flow failed at run time (a template error, a runaway loop); the chat goes to an agent."""

    message: str
    flow: str
    step: str


Effect = Send | SetSlots | Lookup | SelectCustomer | Handoff | Close | FlowError


@dataclass
class Turn:
    """The result of one event: the new state and what to do, plus the steps entered."""

    state: Any  # ChatState; typed loosely to keep this module free of imports
    effects: list[Effect] = field(default_factory=list)
    trace: list[tuple[str, str]] = field(default_factory=list)  # (flow, step) entered, in order

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.effects if isinstance(e, Send)]
