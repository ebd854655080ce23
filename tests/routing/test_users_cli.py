"""`centralita users create` and `centralita tokens create`, on DATABASE_URL; tokens as the
API will check them."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from centralita.cli import main
from centralita.core.models import ApiToken, Campaign, Role, User
from centralita.routing.users import check_password, hash_token, revoke_token, user_for_token
from tests.routing.conftest import NOW


def _campaigns(sessions: sessionmaker[Session], *slugs: str) -> None:
    with sessions.begin() as session:
        session.add_all(Campaign(slug=slug, name=slug.title()) for slug in slugs)


def _user(sessions: sessionmaker[Session], email: str) -> User | None:
    with sessions() as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is not None:
            _ = user.campaigns  # loaded while the session is open
        return user


def test_users_create_an_agent(
    runner: CliRunner, db_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    _campaigns(sessions, "cobranza", "ventas")
    result = runner.invoke(
        main,
        [
            "users", "create", " Ana@Example.COM ", "--name", "Ana Díaz", "--role", "agent",
            "--campaign", "ventas", "--campaign", "cobranza", "--capacity", "7",
            "--password", "s3cret-pass",
        ],
        env={"DATABASE_URL": db_url},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == (
        "created agent ana@example.com (Ana Díaz): cobranza, ventas, capacity 7, weight 1\n"
    )
    user = _user(sessions, "ana@example.com")
    assert user is not None
    assert (user.role, user.capacity, user.weight, user.active) == (Role.AGENT, 7, 1, True)
    assert [c.slug for c in user.campaigns] == ["cobranza", "ventas"]
    assert user.password_hash != "s3cret-pass"
    assert check_password(user, "s3cret-pass")
    assert not check_password(user, "wrong")


def test_without_a_password_one_is_generated_and_shown_once(
    runner: CliRunner, db_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    result = runner.invoke(
        main,
        ["users", "create", "boss@example.com", "--name", "Boss", "--role", "supervisor"],
        env={"DATABASE_URL": db_url},
    )
    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()
    assert first == "created supervisor boss@example.com (Boss): no campaigns"
    password = second.removeprefix("password (shown once): ")
    assert len(password) >= 12
    user = _user(sessions, "boss@example.com")
    assert user is not None
    assert check_password(user, password)


def test_users_create_refuses_bad_input(
    runner: CliRunner, db_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    _campaigns(sessions, "cobranza")
    env = {"DATABASE_URL": db_url}
    base = ["users", "create", "ana@example.com", "--name", "Ana", "--password", "x"]
    cases = [
        (["--role", "boss"], "Invalid value for '--role'"),
        (["--role", "agent", "--campaign", "nope"], "no campaign 'nope'"),
        (["--role", "agent", "--capacity", "0"], "Invalid value for --capacity: 0 is less than 1"),
    ]
    for extra, message in cases:
        result = runner.invoke(main, [*base, *extra], env=env)
        assert result.exit_code == 2, result.output
        assert message in result.output
    bad_email = runner.invoke(
        main, ["users", "create", "ana-at-example", "--name", "A", "--role", "agent"], env=env
    )
    assert bad_email.exit_code == 1
    assert "'ana-at-example' is not an email address" in bad_email.output
    assert _user(sessions, "ana@example.com") is None

    assert runner.invoke(main, [*base, "--role", "agent"], env=env).exit_code == 0
    again = runner.invoke(main, [*base, "--role", "admin"], env=env)
    assert again.exit_code == 1
    assert "Error: a user ana@example.com already exists" in again.output


def test_tokens_create_prints_a_token_and_stores_only_its_hash(
    runner: CliRunner, db_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    env = {"DATABASE_URL": db_url}
    made = runner.invoke(
        main,
        ["users", "create", "ana@example.com", "--name", "Ana", "--role", "agent"],
        env=env,
    )
    assert made.exit_code == 0, made.output
    result = runner.invoke(main, ["tokens", "create", "ANA@example.com"], env=env)
    assert result.exit_code == 0, result.output
    token = result.output.splitlines()[-1]
    assert len(token) >= 40 and " " not in token
    with sessions.begin() as session:
        [stored] = session.scalars(select(ApiToken)).all()
        assert stored.token_hash == hash_token(token)
        assert token not in stored.token_hash
        user = user_for_token(session, token, NOW)
        assert user is not None and user.email == "ana@example.com"
        assert stored.last_used_at == NOW
        user_for_token(session, token, NOW + timedelta(seconds=10))
        assert stored.last_used_at == NOW  # written at most once a minute
        assert user_for_token(session, token + "x", NOW) is None
        assert user_for_token(session, "", NOW) is None
        assert revoke_token(session, token, NOW)
        assert user_for_token(session, token, NOW) is None

    second = runner.invoke(main, ["tokens", "create", "ana@example.com"], env=env)
    assert second.output.splitlines()[-1] != token

    unknown = runner.invoke(main, ["tokens", "create", "nobody@example.com"], env=env)
    assert unknown.exit_code == 1
    assert "no user nobody@example.com" in unknown.output
