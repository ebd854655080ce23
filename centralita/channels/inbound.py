"""Twilio's inbound message webhook parameters, parsed and checked.

Every parameter is kept (`raw`) for audit; the ones Centralita uses are checked so a malformed
request is refused with the name of what is wrong, after the signature check passed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}\Z")
_ADDRESS = re.compile(r"(?:(whatsapp|messenger):)?\+[1-9][0-9]{6,14}\Z")
MAX_MEDIA = 10  # WhatsApp and MMS carry at most 10 media per message


class InvalidParameter(ValueError):
    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter
        self.problem = problem


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True)
class InboundMessage:
    sid: str
    from_: str  # the customer: whatsapp:+573001234567 or +573001234567
    to: str  # our number
    body: str
    media: tuple[Media, ...]
    profile_name: str
    location: dict[str, Any] | None
    button: dict[str, str] | None
    raw: dict[str, str]

    @property
    def text(self) -> str:
        """What the flow sees as the customer's words: the body, else a tapped button's text."""
        if self.body:
            return self.body
        if self.button:
            return self.button.get("text") or self.button.get("payload") or ""
        return ""

    @property
    def channel(self) -> str:
        return "whatsapp" if self.from_.startswith("whatsapp:") else "sms"


def is_address(value: str) -> bool:
    return bool(_ADDRESS.match(value))


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise InvalidParameter(name, "missing")
    return value


def _address(form: Mapping[str, str], name: str) -> str:
    value = _required(form, name)
    if not _ADDRESS.match(value):
        raise InvalidParameter(
            name, f"{value!r} is not a phone address such as whatsapp:+573001234567"
        )
    return value


def _float(form: Mapping[str, str], name: str, low: float, high: float) -> float:
    try:
        value = float(form[name])
    except ValueError:
        raise InvalidParameter(name, f"{form[name]!r} is not a number") from None
    if not low <= value <= high:
        raise InvalidParameter(name, f"{value} is out of range [{low}, {high}]")
    return value


def parse_inbound(form: Mapping[str, str]) -> InboundMessage:
    """Check and read Twilio's parameters; InvalidParameter names the first bad one."""
    sid = _required(form, "MessageSid")
    if not _SID.match(sid):
        raise InvalidParameter("MessageSid", f"{sid!r} is not a Twilio message SID")
    from_ = _address(form, "From")
    to = _address(form, "To")
    raw_count = form.get("NumMedia", "0").strip() or "0"
    if not raw_count.isdigit() or int(raw_count) > MAX_MEDIA:
        raise InvalidParameter("NumMedia", f"{raw_count!r} is not a count from 0 to {MAX_MEDIA}")
    media = []
    for i in range(int(raw_count)):
        url = _required(form, f"MediaUrl{i}")
        if not url.startswith(("https://", "http://")):
            raise InvalidParameter(f"MediaUrl{i}", f"{url!r} is not a URL")
        media.append(Media(url, form.get(f"MediaContentType{i}", "application/octet-stream")))
    location = None
    if "Latitude" in form or "Longitude" in form:
        location = {
            "latitude": _float(form, "Latitude", -90, 90) if "Latitude" in form else None,
            "longitude": _float(form, "Longitude", -180, 180) if "Longitude" in form else None,
            "address": form.get("Address"),
            "label": form.get("Label"),
        }
        if location["latitude"] is None or location["longitude"] is None:
            missing = "Longitude" if location["longitude"] is None else "Latitude"
            raise InvalidParameter(missing, "missing (a location needs both coordinates)")
    button = None
    if form.get("ButtonPayload") or form.get("ButtonText"):
        button = {"payload": form.get("ButtonPayload", ""), "text": form.get("ButtonText", "")}
    return InboundMessage(
        sid=sid,
        from_=from_,
        to=to,
        body=form.get("Body", ""),
        media=tuple(media),
        profile_name=form.get("ProfileName", "").strip(),
        location=location,
        button=button,
        raw=dict(form),
    )
