"""`centralita senders health` and `senders resume` against the test database."""

from __future__ import annotations

import json

from click.testing import CliRunner

from centralita.channels.health import health_report
from centralita.channels.health_thresholds import HealthThresholds
from centralita.cli import main
from centralita.core.runtime import Runtime

from .conftest import N1, N2, NOW, Scene, ago

AS_OF = ["--now", NOW.isoformat()]


def _scene(scene: Scene) -> None:
    """N1: 30 messages, 6 failed (20%): 27 replies to customers who wrote, 3 blocked
    templates. N2: quiet."""
    scene.number(N1)
    scene.number(N2, rate_limit=10)
    for i in range(27):
        chat = scene.chat(N1, scene.customer())
        scene.inbound(chat, ago(hours=3, minutes=i))
        failed = i < 3
        scene.outbound(
            chat,
            ago(hours=2, minutes=i),
            status="undelivered" if failed else "delivered",  # type: ignore[arg-type]
            code="63024" if failed else None,
        )
    for minutes in (10, 20, 30):
        scene.blocked(N1, ago(minutes=minutes))


def test_health_table(runner: CliRunner, db_url: str, rt: Runtime, scene: Scene) -> None:
    _scene(scene)
    result = runner.invoke(main, ["senders", "health", *AS_OF], env={"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    out = result.output
    blocks = out.split("\n\n")
    assert blocks[0].startswith(f"{N1}  CRITICAL  (last sweep: ok)\n")
    assert blocks[1].startswith(f"{N2}  OK\n")
    lines = blocks[0].splitlines()
    header = lines[1].split()
    assert header == ["signal", "value", "watch", "critical"]
    row = next(line for line in lines if line.lstrip().startswith("failed or undelivered"))
    assert "20.0%" in row and "≥ 5.0%" in row and "≥ 15.0%" in row
    reply = next(line for line in lines if "replies per message sent" in line)
    assert "(not judged)" in reply  # 30 outbound < 100
    minute = next(line for line in blocks[1].splitlines() if "sent in the last minute" in line)
    assert minute.split()[-2:] == ["≥", "480"]  # 80% of N2's 10/s for a minute
    assert "  error codes (24 h): 63014: 3, 63024: 3" in out
    assert "  reasons:\n    critical failed or undelivered (24 h): 20.0% ≥ 15.0%\n" in out
    assert "    watch    blocked (63014, 21610) (24 h): 3 ≥ 3\n" in out
    assert out.rstrip().endswith(
        "portfolio: 3 business-initiated recipients in 24 h, 0.3% of the 1000 tier "
        "(SENDER_HEALTH_TIER)"
    )


def test_health_json_is_the_api_report(
    runner: CliRunner, db_url: str, rt: Runtime, scene: Scene
) -> None:
    _scene(scene)
    result = runner.invoke(
        main,
        ["senders", "health", "--format", "json", *AS_OF],
        env={"DATABASE_URL": db_url, "SENDER_HEALTH_FAILURE_CRITICAL": "25%"},
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    with rt.sessions() as session:
        expected = health_report(session, NOW, HealthThresholds(failure_critical=0.25))
    assert shown == json.loads(json.dumps(expected))
    assert [s["level"] for s in shown["senders"]] == ["watch", "ok"]
    assert shown["thresholds"]["failure_critical"] == 0.25


def test_health_problems_are_one_readable_line(runner: CliRunner, db_url: str, rt: Runtime) -> None:
    env = {"DATABASE_URL": db_url}
    empty = runner.invoke(main, ["senders", "health"], env=env)
    assert empty.exit_code == 0
    assert "no numbers yet" in empty.output
    bad = runner.invoke(main, ["senders", "health"], env={**env, "SENDER_HEALTH_TIER": "mil"})
    assert bad.exit_code == 1
    assert "Error: SENDER_HEALTH_TIER: 'mil' is not a number." in bad.output
    naive = runner.invoke(main, ["senders", "health", "--now", "2026-11-22T12:00"], env=env)
    assert naive.exit_code == 2
    assert "has no offset" in naive.output


def test_resume(runner: CliRunner, db_url: str, rt: Runtime, scene: Scene) -> None:
    scene.number(N1)
    env = {"DATABASE_URL": db_url}
    unknown = runner.invoke(main, ["senders", "resume", "whatsapp:+570000"], env=env)
    assert unknown.exit_code == 1
    assert "no sender number 'whatsapp:+570000'" in unknown.output
    not_paused = runner.invoke(main, ["senders", "resume", N1], env=env)
    assert not_paused.exit_code == 0
    assert not_paused.output == (
        f"{N1} was not paused\n0 held message(s) back in the outbox, sent by the next sweep\n"
    )
