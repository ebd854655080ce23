"""Where sender health draws its lines: the thresholds, their defaults, and their variables.

Every field of `HealthThresholds` can be overridden by the environment variable
`SENDER_HEALTH_<FIELD>` (e.g. `SENDER_HEALTH_TIER=10000`, `SENDER_HEALTH_FAILURE_WATCH=3%`);
`HealthThresholds.from_env` is the one place that reads them. docs/sender-health.md lists
them for administrators.

The defaults are judgement, not Meta's figures (Meta publishes no thresholds for its quality
rating): each says why it sits where it does. Counts and ratios are over the last 24 hours
unless the name says otherwise. A `None` threshold is off.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import get_type_hints

from centralita.core.settings import SettingsError

ENV_PREFIX = "SENDER_HEALTH_"

# The Twilio error codes that signal blocking or spam, grouped by what they say about us
# (docs/twilio-numbers.md, section 5.6). Each group has a watch and a critical count.
CODE_GROUPS: dict[str, tuple[str, ...]] = {
    "blocked": ("63014", "21610"),  # the customer blocked the number or opted out
    "filtered": ("30007",),  # a carrier's or Twilio's spam filter stopped the message
    "withheld": ("63049",),  # Meta chose not to deliver a marketing template
    "limited": ("63018",),  # rate or messaging limit hit (portfolio tier, or quality)
    "locked": ("63051",),  # the WhatsApp Business Account is locked
    "window": ("63016",),  # free text outside the 24-hour window: a template is missing
    "unreachable": ("63024", "63003", "30003", "30005", "30006"),  # bad or dead numbers
}
WATCHED_CODES: tuple[str, ...] = tuple(code for codes in CODE_GROUPS.values() for code in codes)


@dataclass(frozen=True)
class HealthThresholds:
    # -- Meta's messaging limit ("tier") --------------------------------------------------
    # Unique WhatsApp users the business portfolio may reach with business-initiated messages
    # in a moving 24 hours, shared by all its numbers. 1000 is the old first tier, between a
    # new portfolio's 250 and a verified one's 2000: set your portfolio's value from WhatsApp
    # Manager. None: unlimited (no tier check).
    tier: int | None = 1000
    # Share of the tier used: at 80% an operator still has hours to re-plan the day; at 100%
    # every further business-initiated message fails with 63018, so sending more only piles
    # up failures.
    tier_watch: float = 0.80
    tier_critical: float = 1.00

    # -- pace ---------------------------------------------------------------------------
    # Outbound messages in the last minute, as a share of the number's own rate limit x 60.
    # Sustained sending near the ceiling is a blast: Twilio starts queueing, and blocks soon
    # after a blast are the quickest way to a low quality rating. Never critical by itself.
    minute_watch: float = 0.80
    # Business-initiated messages in the last hour, as a share of the tier: a quarter of the
    # day's budget in one hour is a burst to people who did not write to us (Twilio advises
    # spreading a large launch over days).
    hour_watch: float = 0.25

    # -- failures and replies (only with enough traffic to mean something) -----------------
    # Below this many outbound messages in 24 hours, failure and reply ratios are not judged:
    # 1 failure in 3 messages is noise, not a 33% failure rate.
    min_volume: int = 20
    # Failed + undelivered over outbound. Opted-in customers with current numbers rarely fail
    # (a few percent: phones off, numbers changed hands); 5% means the list needs cleaning,
    # 15% means a large part of the audience can't or won't receive us, which Meta reads as
    # low-quality sending.
    failure_watch: float = 0.05
    failure_critical: float = 0.15
    # Inbound messages from our recipients over outbound. A conversation runs near 1; a
    # campaign nobody answers runs near 0, and few replies come before blocks. Watch only by
    # default: notification-only campaigns legitimately get few replies, and the blocks
    # themselves (below) are what should pause a number. Judged from this many outbound on.
    reply_min_volume: int = 100
    reply_watch: float | None = 0.10
    reply_critical: float | None = None

    # -- messages per customer per day -------------------------------------------------
    # Business-initiated messages to one customer in 24 hours. Colombia's Ley 2300 is
    # summarised as "not more than once a day" for collections; three unsolicited messages in
    # a day is what people report as spam. Watch when anyone got that many; critical when
    # it is the campaign's pattern (the 95th percentile of recipients), not one agent's
    # follow-up.
    per_recipient_watch: int = 3
    per_recipient_p95_critical: int = 3
    # All our messages to one customer in 24 hours, replies included. A busy conversation
    # needs a few dozen; more usually means a bot loop or an agent flooding someone.
    conversation_watch: int = 60

    # -- error codes: distinct messages with a code of the group in 24 hours ---------------
    # Blocks and opt-outs are people acting against the number: the main input of Meta's
    # quality rating. A few are normal for collections; twenty in a day is a campaign problem.
    blocked_watch: int | None = 3
    blocked_critical: int | None = 20
    # Twilio asks for three or more 30007 SIDs before it investigates a filter: any is worth a
    # look, five means the content or sender is being treated as spam.
    filtered_watch: int | None = 1
    filtered_critical: int | None = 5
    # Meta withholding marketing templates from people unlikely to engage: common for
    # marketing, so it needs many before pausing.
    withheld_watch: int | None = 1
    withheld_critical: int | None = 25
    # 63018: the portfolio's limit is used up or Meta is rate-limiting the number for quality.
    # Sending on only adds failures.
    limited_watch: int | None = 1
    limited_critical: int | None = 10
    # A locked account fails everything: pause at the first one.
    locked_watch: int | None = 1
    locked_critical: int | None = 1
    # Centralita checks the window itself, so a 63016 from Twilio means a missing template or
    # clocks that disagree: a configuration problem, never a reason to pause.
    window_watch: int | None = 3
    window_critical: int | None = None
    # Dead, invalid or landline numbers are data quality: the failure rate already weighs
    # them, the count only points at the cause.
    unreachable_watch: int | None = 10
    unreachable_critical: int | None = None

    def code_limits(self) -> dict[str, tuple[int | None, int | None]]:
        """(watch, critical) per group of CODE_GROUPS."""
        return {
            "blocked": (self.blocked_watch, self.blocked_critical),
            "filtered": (self.filtered_watch, self.filtered_critical),
            "withheld": (self.withheld_watch, self.withheld_critical),
            "limited": (self.limited_watch, self.limited_critical),
            "locked": (self.locked_watch, self.locked_critical),
            "window": (self.window_watch, self.window_critical),
            "unreachable": (self.unreachable_watch, self.unreachable_critical),
        }

    def to_json(self) -> dict[str, int | float | None]:
        return dataclasses.asdict(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HealthThresholds:
        """The defaults, with every `SENDER_HEALTH_<FIELD>` that is set (and not blank)."""
        env = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        changes: dict[str, int | float | None] = {}
        for field in dataclasses.fields(cls):
            variable = ENV_PREFIX + field.name.upper()
            raw = env.get(variable, "").strip()
            if raw:
                changes[field.name] = _parse(variable, raw, hints[field.name])
        return dataclasses.replace(cls(), **changes)  # type: ignore[arg-type]


_OFF = {"off", "none", "unlimited"}


def _parse(variable: str, raw: str, kind: object) -> int | float | None:
    optional = kind in (int | None, float | None)
    if raw.lower() in _OFF:
        if optional:
            return None
        raise SettingsError(variable, f"{raw!r} is not allowed here", "Give a number")
    as_float = kind in (float, float | None)
    try:
        if as_float:
            value: int | float = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
        else:
            value = int(raw)
    except ValueError:
        example = "0.05 or 5%" if as_float else "an integer such as 10"
        fix = f"Use {example}" + (", or off" if optional else "")
        raise SettingsError(variable, f"{raw!r} is not a number", fix) from None
    if value < 0:
        raise SettingsError(variable, f"{raw!r} is negative", "Use 0 or more")
    return value
