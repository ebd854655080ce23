"""The real transport: Twilio's Messages API through the `twilio` library."""

from __future__ import annotations

from centralita.channels.transport import Accepted, Outgoing, SendError
from centralita.channels.twilio_client import SEND_ERRORS, describe_error, make_client, send_message


class TwilioTransport:
    def __init__(self, account_sid: str, auth_token: str, api_base_url: str) -> None:
        self.client = make_client(account_sid, auth_token, api_base_url)

    def send(self, message: Outgoing) -> Accepted:
        try:
            sent = send_message(
                self.client,
                from_=message.from_,
                to=message.to,
                body=message.body or None,
                media_urls=message.media_urls,
                content_sid=message.content_sid,
                content_variables=(
                    {k: str(v) for k, v in message.content_variables.items()}
                    if message.content_variables is not None
                    else None
                ),
                status_callback=message.status_callback,
            )
        except SEND_ERRORS as exc:
            failure = describe_error(exc)
            raise SendError(
                failure.message,
                code=None if failure.code is None else str(failure.code),
                transient=failure.kind == "transient",
            ) from exc
        return Accepted(sid=sent.sid, status=sent.status)
