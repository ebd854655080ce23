"""How an outgoing message leaves: Twilio's REST API, or the console when there are no
credentials (the demo and development: nothing leaves the machine)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    from_: str
    to: str
    body: str = ""
    media_urls: Sequence[str] = ()
    content_sid: str | None = None
    content_variables: dict[str, Any] | None = None
    status_callback: str | None = None


@dataclass(frozen=True)
class Accepted:
    sid: str
    status: str  # as the provider said: queued, accepted, sent...


class SendError(Exception):
    """A send the provider refused. `transient`: try again later; otherwise it never will."""

    def __init__(self, message: str, *, code: str | None, transient: bool) -> None:
        super().__init__(message)
        self.code = code
        self.transient = transient


class Transport(Protocol):
    def send(self, message: Outgoing) -> Accepted: ...


@dataclass
class ConsoleTransport:
    """Records messages instead of sending them; `sent` keeps them for whoever looks."""

    sent: list[Outgoing] = field(default_factory=list)

    def send(self, message: Outgoing) -> Accepted:
        self.sent.append(message)
        log.info("console transport: %s -> %s: %s", message.from_, message.to, message.body)
        return Accepted(sid=f"console-{uuid.uuid4().hex}", status="sent")
