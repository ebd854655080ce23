"""Inbound webhooks as Twilio sends them: the form of an incoming message, signed and posted.

For tests, benchmarks and the customer simulator: `inbound_params` builds the parameters
Twilio posts to a number's incoming-message URL (WhatsApp or SMS), `signed_headers` signs them
with the account's auth token exactly as Twilio does, and `post_inbound` sends them over HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import requests

from centralita.channels.twilio_client import compute_signature

API_VERSION: Final = "2010-04-01"
WHATSAPP_PREFIX: Final = "whatsapp:"


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str = "image/jpeg"


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    address: str | None = None
    label: str | None = None


def new_message_sid() -> str:
    """A fresh Twilio-shaped Message sid: `SM` and 32 hex digits."""
    return "SM" + uuid.uuid4().hex


def inbound_params(
    *,
    account_sid: str,
    from_: str,
    to: str,
    body: str = "",
    media: Sequence[Media] = (),
    profile_name: str | None = None,
    location: Location | None = None,
    button_payload: str | None = None,
    button_text: str | None = None,
    message_sid: str | None = None,
    messaging_service_sid: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The form Twilio posts for a message from `from_` to our number `to`.

    WhatsApp when `from_` is `whatsapp:+...` (adds ProfileName, WaId, MessageType...).
    `extra` adds or overrides parameters (Twilio adds new ones without notice; the webhook
    must keep them for audit and still check the signature).
    """
    sid = message_sid or new_message_sid()
    params = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": str(len(media)),
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": API_VERSION,
    }
    if messaging_service_sid is not None:
        params["MessagingServiceSid"] = messaging_service_sid
    for index, item in enumerate(media):
        params[f"MediaUrl{index}"] = item.url
        params[f"MediaContentType{index}"] = item.content_type
    if location is not None:
        params["Latitude"] = repr(location.latitude)
        params["Longitude"] = repr(location.longitude)
        if location.address is not None:
            params["Address"] = location.address
        if location.label is not None:
            params["Label"] = location.label
    if button_payload is not None:
        params["ButtonPayload"] = button_payload
        params["ButtonText"] = button_text if button_text is not None else button_payload
    if from_.startswith(WHATSAPP_PREFIX):
        params["ProfileName"] = profile_name if profile_name is not None else ""
        params["WaId"] = from_.removeprefix(WHATSAPP_PREFIX).lstrip("+")
        params["MessageType"] = _message_type(media, location, button_payload)
        params["ReferralNumMedia"] = "0"
    params.update(extra or {})
    return params


def whatsapp_text_params(
    *,
    account_sid: str,
    from_: str,
    to: str,
    body: str,
    profile_name: str = "Cliente",
    message_sid: str | None = None,
) -> dict[str, str]:
    """A WhatsApp text message; `from_` / `to` get the `whatsapp:` prefix if they lack it."""
    return inbound_params(
        account_sid=account_sid,
        from_=_whatsapp(from_),
        to=_whatsapp(to),
        body=body,
        profile_name=profile_name,
        message_sid=message_sid,
    )


def signed_headers(auth_token: str, url: str, params: Mapping[str, str]) -> dict[str, str]:
    """Headers Twilio sends with a webhook: `url` is the public URL it calls (signed as is)."""
    return {
        "X-Twilio-Signature": compute_signature(auth_token, url, params),
        "I-Twilio-Idempotency-Token": uuid.uuid4().hex,
        "User-Agent": "TwilioProxy/1.1",
    }


def post_inbound(
    url: str,
    auth_token: str,
    params: Mapping[str, str],
    *,
    signed_url: str | None = None,
    timeout: float = 10.0,
    session: requests.Session | None = None,
) -> tuple[int, str]:
    """POST `params` to `url`, signed as Twilio would; the answer's (status, body).

    `signed_url`: the public URL to sign when it differs from where the request goes (the app
    behind a proxy: sign `PUBLIC_BASE_URL/webhooks/...`, post to `http://127.0.0.1:PORT/...`).
    """
    headers = signed_headers(auth_token, signed_url or url, params)
    poster = session or requests
    response = poster.post(
        url, data=dict(params), headers=headers, timeout=timeout, allow_redirects=False
    )
    return response.status_code, response.text


def _whatsapp(address: str) -> str:
    return address if address.startswith(WHATSAPP_PREFIX) else WHATSAPP_PREFIX + address


def _message_type(
    media: Sequence[Media], location: Location | None, button_payload: str | None
) -> str:
    if location is not None:
        return "location"
    if button_payload is not None:
        return "button"
    if media:
        kind = media[0].content_type.partition("/")[0]
        return kind if kind in ("image", "video", "audio") else "document"
    return "text"
