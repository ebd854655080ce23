"""`centralita test`: results, located failures with diffs, coverage, bad files, -k."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from centralita.cli import main
from tests.bot.helpers import pos, write

FLOW = """
    flow: greeter
    start: hello
    steps:
      hello: {type: say, text: "¡Hola {{ contact.profile_name }}!"}
      name:
        type: ask
        text: "¿Cómo te llamas?"
        slot: name
      route:
        type: branch
        branches: [{if: "slots.name == 'Agente'", then: agent}]
        else: bye
      agent: {type: handoff, text: "Un momento", campaign: ventas}
      bye: {type: end, text: "Chao {{ slots.name }}"}
    """

TESTS = """
    flow: greeter
    cases:
      - name: says goodbye by name
        contact: {profile_name: Eva}
        steps:
          - user: hola
          - bot: "¡Hola Eva!"
          - bot: /llamas/
          - user: Eva
          - bot: Chao Eva
          - end: true
      - name: wrong farewell
        steps:
          - user: hola
          - user: Eva
          - bot: Adiós Eva
    """


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    write(folder, "greeter.yaml", FLOW)
    write(folder / "tests", "greeter_test.yaml", TESTS)
    return folder


def invoke(runner: CliRunner, *args: str, env: dict[str, str] | None = None):
    return runner.invoke(main, ["test", *args], env=env, catch_exceptions=False)


def test_results_failure_diff_and_coverage(runner: CliRunner, flows: Path) -> None:
    result = invoke(runner, "--flows", str(flows))
    assert result.exit_code == 1
    out = result.stdout
    assert "✓ says goodbye by name" in out
    assert "✗ wrong farewell" in out
    test_file = flows / "tests" / "greeter_test.yaml"
    line, col = pos(TESTS, "bot: Adiós Eva")
    assert f"{test_file}:{line}:{col}: bot message differs" in out
    assert "expected: 'Adiós Eva'" in out
    assert "actual:   'Chao Eva'" in out
    assert "customer: Eva" in out  # the conversation so far
    assert "coverage: greeter 4/5 steps; not visited: agent" in out
    assert "1 passed, 1 failed" in out


def test_all_passing_exits_0_and_k_filters(runner: CliRunner, flows: Path) -> None:
    result = invoke(runner, "--flows", str(flows), "-k", "GOODBYE")
    assert result.exit_code == 0, result.output
    assert "1 passed, 0 failed" in result.stdout
    assert "wrong farewell" not in result.stdout


def test_flows_dir_and_explicit_paths(runner: CliRunner, flows: Path, tmp_path: Path) -> None:
    only_good = write(
        tmp_path / "elsewhere",
        "good.yaml",
        """
        flow: greeter
        cases:
          - name: agent
            steps: [{user: hola}, {user: Agente}, {handoff: {campaign: ventas}}]
        """,
    )
    result = invoke(runner, str(only_good), env={"FLOWS_DIR": str(flows)})
    assert result.exit_code == 0, result.output
    assert "coverage: greeter 4/5 steps; not visited: bye" in result.stdout


def test_no_cases_is_a_failure(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    write(folder, "greeter.yaml", FLOW)
    (folder / "tests").mkdir()
    result = invoke(runner, "--flows", str(folder))
    assert result.exit_code == 1
    assert "no test cases found" in result.stderr


def test_a_missing_tests_folder_is_reported(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    write(folder, "greeter.yaml", FLOW)
    result = invoke(runner, "--flows", str(folder))
    assert result.exit_code == 1
    assert "no such file or folder" in result.stdout


def test_bad_test_files_exit_1_with_located_messages(runner: CliRunner, flows: Path) -> None:
    bad = """
        flow: greeter
        cases:
          - name: broken
            steps:
              - user: hola
              - step: nmae
              - bot: /[a-/
              - wait: 10 min
              - answer: hi
        """
    path = write(flows / "tests", "bad_test.yaml", bad)
    unknown = write(
        flows / "tests",
        "unknown_test.yaml",
        "flow: greter\ncases: [{name: x, steps: [{user: hola}]}]\n",
    )
    result = invoke(runner, "--flows", str(flows), str(path), str(unknown))
    assert result.exit_code == 1
    out = result.stdout
    for needle in ("step: nmae", "/[a-/", "10 min", "answer"):
        line, _ = pos(bad, needle)
        assert f"{path}:{line}:" in out, (needle, out)
    assert "did you mean 'name'?" in out
    assert f"{unknown}:1:7: error: no valid flow 'greter' to test" in out
    assert "Traceback" not in result.output


def test_invalid_flow_under_test_is_reported(runner: CliRunner, flows: Path) -> None:
    write(flows, "greeter.yaml", FLOW.replace("else: bye", "else: byee"))
    result = invoke(runner, "--flows", str(flows))
    assert result.exit_code == 1
    assert "greeter.yaml" in result.stdout and "'byee'" in result.stdout
    assert "no valid flow 'greeter' to test" in result.stdout
