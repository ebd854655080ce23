"""A conversation with a flow, one line at a time: the engine behind `centralita simulate`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from centralita.bot import effects as fx
from centralita.bot.durations import DurationError, parse_duration
from centralita.bot.engine import Contact, CustomerDirectory, Engine, Inbound
from centralita.bot.loader import FlowSet
from centralita.bot.state import ACTIVE, CLOSED, ChatState

HELP = """commands:
  /wait 15m     let time pass (reminders and silence timeouts fire)
  /state        show the chat's state as stored
  /slots        show the slots
  /restart      start a new chat
  /quit         leave (Ctrl-D works too)"""


class Simulator:
    def __init__(
        self,
        flows: FlowSet,
        flow_id: str,
        directory: CustomerDirectory | None,
        *,
        contact: Contact | None = None,
        language: str | None = None,
        now: datetime | None = None,
    ) -> None:
        self.engine = Engine(flows, directory)
        self.flow_id = flow_id
        self.contact = contact or Contact("whatsapp:+573001234567", "Cliente")
        self.language = language
        self.now = now or datetime.now(UTC)
        self.state: ChatState | None = None

    def handle(self, line: str) -> list[str]:
        """What to print for one line the user typed; raises EOFError on /quit."""
        text = line.strip()
        if text.startswith("/"):
            return self.command(text)
        if self.state is None or self.state.status == CLOSED:
            turn = self.engine.start(
                self.flow_id, self.contact, self.now, message=Inbound(text), language=self.language
            )
        elif self.state.status != ACTIVE:
            return ["(the chat is with an agent: the bot stays silent; /restart for a new chat)"]
        else:
            turn = self.engine.receive(self.state, Inbound(text), self.contact, self.now)
        return self.absorb(turn)

    def absorb(self, turn: fx.Turn) -> list[str]:
        self.state = turn.state
        out: list[str] = []
        for effect in turn.effects:
            if isinstance(effect, fx.Send):
                body = effect.text + (f"\n[media: {effect.media}]" if effect.media else "")
                out.append("bot> " + body.replace("\n", "\n     "))
            elif isinstance(effect, fx.Close):
                if effect.text:
                    out.append("bot> " + effect.text.replace("\n", "\n     "))
                out.append(f"(chat closed: {effect.reason})")
            elif isinstance(effect, fx.Handoff):
                out.append(
                    f"(handed to an agent: campaign={effect.campaign or '-'}, "
                    f"reason={effect.reason})"
                )
            elif isinstance(effect, fx.SelectCustomer):
                out.append(f"(customer {effect.document} of campaign {effect.campaign})")
            elif isinstance(effect, fx.FlowError):
                out.append(f"(flow error at step {effect.step}: {effect.message})")
        return out

    def command(self, text: str) -> list[str]:
        name, _, arg = text.partition(" ")
        if name in ("/quit", "/exit"):
            raise EOFError
        if name == "/help":
            return HELP.splitlines()
        if name == "/restart":
            self.state = None
            return ["(new chat: write something to start)"]
        if name == "/wait":
            try:
                delta = parse_duration(arg.strip())
            except DurationError as exc:
                return [f"(error: {exc})"]
            self.now += delta
            lines = [f"(clock: {self.now:%Y-%m-%d %H:%M} UTC)"]
            if self.state is not None:
                lines += self.absorb(self.engine.tick(self.state, self.contact, self.now))
            return lines
        if name in ("/state", "/slots"):
            if self.state is None:
                return ["(no chat yet)"]
            data: Any = self.state.to_json() if name == "/state" else self.state.slots
            return json.dumps(data, ensure_ascii=False, indent=2, default=str).splitlines()
        return [f"(unknown command {name}; /help lists them)"]
