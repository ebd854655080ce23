"""`centralita validate`: every problem of every file, located, in one run; exit 0/1; JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from centralita.cli import main
from tests.bot.helpers import dedent, pos, write

LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning): .+$")

VALID = """
    flow: hello
    start: greet
    steps:
      greet: {type: say, text: "¡Hola!"}
      bye: {type: end, text: "Chao"}
    """

WARNINGS_ONLY = """
    flow: lonely
    start: greet
    steps:
      greet: {type: say, text: "Hola", next: bye}
      orphan: {type: say, text: "Nadie viene"}
      bye: {type: end}
    """

BROKEN_A = """
    flow: broken_a
    start: greet
    steps:
      greet: {type: say, text: "Hola {{ slots.nombre", next: ask}
      ask:
        type: ask
        text: "¿Documento?"
        slot: document
        validate: {pattern: "[0-9"}
        timeout: {after: 0m, then: bey}
      bye: {type: end, text: despedida}
    """

BROKEN_B = """
    flow: broken_b
    start: pick
    steps:
      pick:
        type: branch
        branches: [{if: "slots.x >", then: sub}]
      sub: {type: flow, flow: hello_world}
    """


def invoke(runner: CliRunner, *args: str, env: dict[str, str] | None = None):
    return runner.invoke(main, ["validate", *args], env=env, catch_exceptions=False)


def parsed(stdout: str) -> list[tuple[str, int, int, str, str]]:
    rows = []
    for line in stdout.splitlines():
        match = LINE.match(line)
        assert match, f"not FILE:LINE:COL: ... -> {line!r}"
        rows.append(
            (
                Path(match["file"]).name,
                int(match["line"]),
                int(match["col"]),
                match["severity"],
                line,
            )
        )
    return rows


def test_a_valid_folder_exits_0(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "hello.yaml", VALID)
    result = invoke(runner, str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "1 file(s) checked: 0 error(s), 0 warning(s)" in result.stderr


def test_only_warnings_exit_0(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "lonely.yaml", WARNINGS_ONLY)
    result = invoke(runner, str(tmp_path))
    assert result.exit_code == 0, result.output
    [(name, line, col, severity, text)] = parsed(result.stdout)
    assert (name, severity) == ("lonely.yaml", "warning")
    assert (line, col) == pos(WARNINGS_ONLY, "orphan")
    assert "unreachable" in text


def test_flows_dir_is_the_default(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "broken_b.yaml", BROKEN_B)
    result = invoke(runner, env={"FLOWS_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "broken_b.yaml" in result.stdout


def test_every_problem_of_every_file_in_one_run(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "hello.yaml", VALID)
    write(tmp_path, "broken_a.yaml", BROKEN_A)
    write(tmp_path, "broken_b.yaml", BROKEN_B)
    write(tmp_path, "empty.yaml", "")
    write(tmp_path, "syntax.yml", "flow: x\nsteps: [a, b\nstart: a\n")
    write(tmp_path, "latin1.yaml", "flow: x\ntext: 'año'\n".encode("latin-1"))
    write(tmp_path, "notes.txt", "not a flow, not checked")
    write(tmp_path / "tests", "hello.yaml", "flow: hello\ncases: []\n")  # tests are not flows
    result = invoke(runner, str(tmp_path))
    assert result.exit_code == 1
    rows = parsed(result.stdout)
    found = {(name, line) for name, line, *_ in rows}
    expected = [
        ("broken_a.yaml", BROKEN_A, '"Hola {{'),
        ("broken_a.yaml", BROKEN_A, '"[0-9"'),
        ("broken_a.yaml", BROKEN_A, "0m"),
        ("broken_a.yaml", BROKEN_A, "bey"),
        ("broken_a.yaml", BROKEN_A, "despedida"),
        ("broken_b.yaml", BROKEN_B, "type: branch"),  # no else
        ("broken_b.yaml", BROKEN_B, '"slots.x >"'),
        ("broken_b.yaml", BROKEN_B, "hello_world"),
    ]
    for name, text, needle in expected:
        assert (name, pos(text, needle)[0]) in found, (name, needle, result.stdout)
    assert ("empty.yaml", 1) in found
    assert ("latin1.yaml", 2) in found
    assert any(name == "syntax.yml" for name, *_ in rows)
    assert not any(name in ("hello.yaml", "notes.txt") for name, *_ in rows)
    assert "/tests/" not in result.stdout
    assert "6 file(s) checked" in result.stderr
    assert "Traceback" not in result.output


def test_hints_are_shown(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "broken_a.yaml", BROKEN_A)
    result = invoke(runner, str(tmp_path / "broken_a.yaml"))
    line = next(text for *_, text in parsed(result.stdout) if "'bey'" in text)
    assert line.endswith("(hint: did you mean 'bye'?)")


def test_json_format(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "hello.yaml", VALID)
    write(tmp_path, "broken_b.yaml", BROKEN_B)
    result = invoke(runner, "--format", "json", str(tmp_path))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert set(data) == {"valid", "files", "flows", "problems"}
    assert data["valid"] is False
    assert sorted(Path(f).name for f in data["files"]) == ["broken_b.yaml", "hello.yaml"]
    assert data["flows"] == ["hello"]
    assert data["problems"]
    for problem in data["problems"]:
        assert set(problem) == {"file", "line", "col", "severity", "message", "hint"}
        assert problem["line"] >= 1 and problem["col"] >= 1
    unknown = next(p for p in data["problems"] if "hello_world" in p["message"])
    assert (unknown["line"], unknown["col"]) == pos(BROKEN_B, "hello_world")
    assert unknown["hint"] == "did you mean 'hello'?"


def test_json_format_of_a_valid_folder(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "hello.yaml", VALID)
    result = invoke(runner, "--format", "json", str(tmp_path))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["valid"] is True


def test_a_missing_path_is_a_problem_not_a_crash(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "nope.yaml:1:1: error: no such file or folder" in result.stdout


@pytest.mark.parametrize(
    "text",
    [
        "flow: f\nstart: s\nsteps: &a\n  s: *a\n",
        "\t- x",
        "- just\n- a list\n",
        "flow: f\nstart: s\nsteps:\n  s: {type: say, text: |\n",
        '"unterminated',
        'flow: f\nstart: s\nsteps: {s: {type: end, text: "\x07"}}\n',
    ],
)
def test_malformed_files_get_located_messages(runner: CliRunner, tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "bad.yaml", text.encode())
    result = invoke(runner, str(path))
    assert result.exit_code == 1
    rows = parsed(result.stdout)
    assert rows
    lines = text.split("\n")
    for _, line, col, _, _ in rows:
        assert 1 <= line <= len(lines)
        assert 1 <= col <= len(lines[line - 1]) + 1


def test_summary_counts(runner: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "lonely.yaml", WARNINGS_ONLY)
    write(tmp_path, "b.yaml", dedent(BROKEN_B))
    result = invoke(runner, str(tmp_path))
    errors = sum(1 for *_, severity, _ in parsed(result.stdout) if severity == "error")
    warnings = sum(1 for *_, severity, _ in parsed(result.stdout) if severity == "warning")
    assert f"2 file(s) checked: {errors} error(s), {warnings} warning(s)" in result.stderr


def test_validating_one_file_sees_the_flows_of_its_folder(tmp_path):
    from click.testing import CliRunner

    from centralita.cli import main

    (tmp_path / "main.yaml").write_text(
        "flow: main\nstart: call\nsteps:\n"
        "  call: {type: flow, flow: sub, next: show}\n"
        '  show: {type: end, text: "{{ slots.doc }}"}\n',
        encoding="utf-8",
    )
    (tmp_path / "sub.yaml").write_text(
        'flow: sub\nstart: ask\nsteps:\n  ask: {type: ask, text: "Doc", slot: doc}\n',
        encoding="utf-8",
    )
    (tmp_path / "broken.yaml").write_text("flow: broken\nstart: nowhere\nsteps: {}\n", "utf-8")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "main.yaml")])
    assert result.exit_code == 0, result.output
    assert "broken.yaml" not in result.output  # only the named file's problems
    everything = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert everything.exit_code == 1 and "broken.yaml" in everything.output
