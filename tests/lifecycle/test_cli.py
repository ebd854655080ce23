"""`centralita sweep` runs the lifecycle's timers and says what it did; bad input is named."""

from __future__ import annotations

from datetime import datetime, timedelta

from click.testing import CliRunner

from centralita.cli import main
from centralita.core.models import ChatStatus
from centralita.core.settings import Settings

from .conftest import Center


def test_sweep_closes_alerts_and_reports(
    center: Center, lifecycle_settings: Settings, t0: datetime
) -> None:
    closing = center.handed_off(t0)  # due to close at t0 + 24 h (and alerted long before)
    env = {
        "DATABASE_URL": lifecycle_settings.database_url,
        "FLOWS_DIR": str(lifecycle_settings.flows_dir),
        "STORAGE_DIR": str(lifecycle_settings.storage_dir),
        "SECRET_KEY": "x",
    }
    # Another customer, queued at t0 + 23 h: unanswered for 30 min at t0 + 23 h 30.
    second = center.write("hola", t0 + timedelta(hours=23), from_="whatsapp:+573005550000")
    center.write("1012345678", t0 + timedelta(hours=23), from_="whatsapp:+573005550000")
    at = (t0 + timedelta(hours=24)).isoformat()
    result = CliRunner().invoke(main, ["sweep", "--now", at], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"sweep as of {at}" in lines[0]
    for line in (
        "  chats closed automatically: 1",
        "  unanswered alerts raised: 1",
        "  unanswered chats reassigned: 0",
        "  transcripts enqueued: 1",
    ):
        assert line in lines, result.output
    assert center.chat(closing).status == ChatStatus.CLOSED
    assert second.chat_id is not None
    assert center.chat(second.chat_id).status == ChatStatus.WAITING_QUEUE
    assert center.chat(closing).transcript_path is not None  # made in-process: no REDIS_URL


def test_sweep_rejects_a_bad_time_clearly(lifecycle_settings: Settings) -> None:
    env = {"DATABASE_URL": lifecycle_settings.database_url, "SECRET_KEY": "x"}
    bad = CliRunner().invoke(main, ["sweep", "--now", "mañana a las 3"], env=env)
    assert bad.exit_code == 2
    assert "--now" in bad.output and "'mañana a las 3' is not an ISO 8601 time" in bad.output
