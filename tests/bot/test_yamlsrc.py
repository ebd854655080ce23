"""YAML 1.2 reading: scalar types, positions, duplicates, aliases and unreadable files."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from centralita.bot import yamlsrc
from centralita.bot.loader import load_file
from centralita.bot.model import LookupStep
from centralita.bot.yamlsrc import YamlError

from .helpers import dedent, flow_of, load, pos, problem_at, write


def test_yes_no_on_off_stay_strings_and_only_true_false_are_booleans() -> None:
    doc = yamlsrc.load(
        dedent(
            """
            a: yes
            b: no
            on: off
            y: Y
            t: true
            f: False
            n: ~
            e:
            q: "true"
            """
        )
    )
    assert doc.data == {
        "a": "yes",
        "b": "no",
        "on": "off",
        "y": "Y",
        "t": True,
        "f": False,
        "n": None,
        "e": None,
        "q": "true",
    }


def test_numbers_follow_the_core_schema() -> None:
    doc = yamlsrc.load("a: 12\nb: -3\nc: 1.5\nd: 0x1F\ne: 0o17\nf: 1_000\ng: .inf\nh: 1e3\n")
    assert doc.data == {
        "a": 12,
        "b": -3,
        "c": 1.5,
        "d": 31,
        "e": 15,
        "f": "1_000",  # YAML 1.1 digit separators are not numbers in 1.2
        "g": float("inf"),
        "h": 1000.0,
    }


def test_lookup_on_key_is_read_as_on_not_as_true() -> None:
    flow = flow_of(
        """
        flow: f
        start: find
        steps:
          find:
            type: lookup
            document: "123"
            on: {found: yes_step, not_found: no_step}
          yes_step: {type: end, text: "Found you."}
          no_step: {type: end, text: "Not found."}
        """
    )
    step = flow.steps["find"]
    assert isinstance(step, LookupStep)
    assert step.on["found"] == "yes_step"
    assert step.on["not_found"] == "no_step"


def test_every_value_and_key_keeps_its_line_and_column() -> None:
    text = """
        flow: f
        steps:
          greet:
            type: say
            text: "¡Hóla!"
        """
    doc = yamlsrc.load(dedent(text))
    assert doc.values[("steps", "greet", "text")] == yamlsrc.Mark(*pos(text, '"¡Hóla!"'))
    assert doc.keys[("steps", "greet")] == yamlsrc.Mark(*pos(text, "greet:"))
    assert doc.values[("steps", "greet", "type")] == yamlsrc.Mark(*pos(text, "say"))
    # A path with no node of its own points at its closest ancestor.
    assert doc.at(("steps", "greet", "next")) == yamlsrc.Mark(*pos(text, "type:"))


def test_problem_positions_count_characters_not_bytes() -> None:
    text = """
        flow: f
        start: s
        steps:
          s: {type: say, text: "¡Hóla, señora!", next: nope}
          e: {type: end}
        """
    problems = load(text).problems
    line, col = pos(text, "nope")
    problem = problem_at(problems, line, "unknown step 'nope'")
    assert problem.col == col


def test_duplicate_keys_report_both_lines() -> None:
    text = """
        flow: f
        start: s
        steps:
          s:
            type: say
            text: one
            text: two
            next: e
          e: {type: end}
        """
    problems = load(text).problems
    first, _ = pos(text, "text: one")
    repeat, col = pos(text, "text: two")
    problem = problem_at(problems, repeat, "duplicate key 'text'")
    assert f"line {first}" in problem.message
    assert problem.col == col


def test_duplicate_step_ids_report_both_lines() -> None:
    text = """
        flow: f
        start: ask
        steps:
          ask: {type: ask, text: "¿Nombre?", slot: name}
          bye: {type: end, text: chao}
          ask: {type: end, text: otra}
        """
    problems = load(text).problems
    first, _ = pos(text, "ask: {type: ask")
    repeat, _ = pos(text, "ask: {type: end")
    problem = problem_at(problems, repeat, "duplicate step id 'ask'")
    assert f"line {first}" in problem.message
    assert problem.severity == "error"


def test_tabs_are_reported_on_their_line_with_a_hint() -> None:
    text = "flow: f\nstart: s\nsteps:\n\ts: {type: end}\n"
    loaded = load(text)
    assert loaded.flow is None
    [problem] = loaded.problems
    assert problem.line == 4
    assert problem.hint is not None and "tabs" in problem.hint


def test_anchors_and_aliases_are_expanded() -> None:
    flow = flow_of(
        """
        flow: f
        start: ask
        steps:
          ask:
            type: ask
            text: "¿Edad?"
            slot: age
            validate: &age {type: integer, min: 18}
            next: again
          again:
            type: ask
            text: "¿Edad de tu pareja?"
            slot: partner_age
            validate: *age
            next: bye
          bye: {type: end}
        """
    )
    ask = flow.steps["again"]
    assert ask.rules.type == "integer" and ask.rules.min == 18  # type: ignore[attr-defined]


def test_recursive_alias_is_an_error_not_a_crash() -> None:
    text = "flow: f\nstart: s\nsteps: &loop\n  s: *loop\n"
    loaded = load(text)
    assert loaded.flow is None
    problem = problem_at(loaded.problems, 3, "recursive alias")
    assert problem.severity == "error"


@pytest.mark.timeout(20)
def test_alias_bomb_is_an_error_not_a_hang() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    started = time.monotonic()
    loaded = load("\n".join(lines) + "\n")
    assert time.monotonic() - started < 10
    assert loaded.flow is None
    [problem] = loaded.problems
    assert "expands to more than" in problem.message


def test_merge_keys_are_rejected_with_a_hint() -> None:
    text = """
        flow: f
        start: s
        steps:
          base: &base {type: end}
          s:
            <<: *base
            text: hi
        """
    loaded = load(text)
    line, col = pos(text, "<<")
    problem = problem_at(loaded.problems, line, "merge keys")
    assert problem.col == col


@pytest.mark.parametrize(
    "step",
    [
        "!!python/object:os.system {type: end}",
        "{type: end, text: !!python/name:os.system x}",
        "!!set {type: end}",
        "{type: end, text: !custom hi}",
    ],
)
def test_unsupported_tag_is_located(step: str) -> None:
    text = f"flow: f\nstart: s\nsteps:\n  s: {step}\n"
    loaded = load(text)
    assert loaded.flow is None
    [problem] = loaded.problems
    assert problem.line == 4 and "tag" in problem.message
    assert problem.col == len("  s: ") + 1 + step.index("!")


def test_explicit_core_tags_are_honoured() -> None:
    doc = yamlsrc.load('a: !!str 12\nb: !!int "12"\nc: !!float "1"\n')
    assert doc.data == {"a": "12", "b": 12, "c": 1.0}
    with pytest.raises(YamlError) as raised:
        yamlsrc.load('a: 1\nb: !!int "twelve"\n')
    assert raised.value.line == 2


def test_two_documents_in_one_file_are_an_error() -> None:
    loaded = load("flow: a\n---\nflow: b\n")
    assert loaded.flow is None
    [problem] = loaded.problems
    assert problem.line == 2


def test_control_character_is_located_on_its_line() -> None:
    loaded = load('flow: f\nstart: s\nsteps: {s: {type: end, text: "a\x00b"}}\n')
    [problem] = loaded.problems
    assert problem.line == 3
    assert problem.col == len('steps: {s: {type: end, text: "a') + 1


def test_unclosed_bracket_at_end_of_file_points_inside_the_file() -> None:
    for text in ("flow: f\nsteps: [", "flow: f\nsteps: [\n"):
        [problem] = load(text).problems
        lines = text.split("\n")
        assert 1 <= problem.line <= len(lines)
        assert 1 <= problem.col <= len(lines[problem.line - 1]) + 1


def test_empty_file_is_one_located_problem() -> None:
    for text in ("", "# only a comment\n", "---\n"):
        loaded = load(text)
        assert loaded.flow is None
        [problem] = loaded.problems
        assert (problem.line, problem.col) == (1, 1)
        assert "must be a mapping" in problem.message


def test_list_at_top_level_is_one_located_problem() -> None:
    loaded = load("- flow: f\n- start: s\n")
    [problem] = loaded.problems
    assert "must be a mapping" in problem.message


def test_non_utf8_file_names_the_bad_line(tmp_path) -> None:
    path = write(
        tmp_path,
        "latin1.yaml",
        b"flow: f\nstart: s\nsteps:\n" + "  s: {type: end, text: año}\n".encode("latin-1"),
    )
    loaded = load_file(path)
    [problem] = loaded.problems
    assert problem.line == 4
    assert "UTF-8" in problem.message


def test_utf8_bom_is_accepted(tmp_path) -> None:
    path = write(
        tmp_path, "bom.yaml", "\ufeffflow: f\nstart: s\nsteps:\n  s: {type: end}\n".encode()
    )
    loaded = load_file(path)
    assert loaded.flow is not None, loaded.problems


@pytest.mark.parametrize(
    "text",
    [
        "flow: f\nsteps: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "flow: f\nsteps:\n  " + "- " * 100_000 + "x\n",
        "x: " + "{a: " * 100_000 + "1" + "}" * 100_000 + "\n",
    ],
    ids=["flow-lists", "block-lists", "flow-mappings"],
)
def test_absurd_nesting_is_a_located_error_not_a_crash(tmp_path, text: str) -> None:
    # libyaml composes recursively in C: without a depth check this kills the process, so the
    # validator runs in a child process where a crash is a failure, not the end of the run.
    path = write(tmp_path, "deep.yaml", text.encode())
    script = (
        "import sys; from centralita.bot.loader import load_file; from pathlib import Path;"
        "print('\\n'.join(p.format() for p in load_file(Path(sys.argv[1])).problems))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "nests deeper than" in done.stdout
    line = int(done.stdout.split(":")[1])
    assert 1 <= line <= text.count("\n") + 1


def test_aliases_cannot_nest_deeper_than_the_limit() -> None:
    levels = 40
    text = f"a: &a {'[' * levels}1{']' * levels}\nb: {'[' * levels}*a{']' * levels}\n"
    [problem] = load(text).problems
    assert "nests deeper than" in problem.message


def test_an_integer_too_long_for_python_is_kept_as_written() -> None:
    digits = "9" * 5000
    doc = yamlsrc.load(f"a: {digits}\nb: -{digits}\nc: 12\n")
    assert doc.data == {"a": digits, "b": f"-{digits}", "c": 12}
    assert doc.values[("c",)] == yamlsrc.Mark(3, 4)


def test_a_huge_integer_in_a_flow_is_a_problem_not_a_crash() -> None:
    text = (
        f"flow: f\nstart: s\nsettings: {{max_attempts: {'9' * 5000}}}\nsteps:\n  s: {{type: end}}\n"
    )
    problems = load(text).problems
    assert problem_at(problems, 3, "max_attempts must be a whole number, not a text")


def test_an_explicit_huge_integer_is_a_located_error() -> None:
    with pytest.raises(YamlError) as failure:
        yamlsrc.load(f"a: 1\nb: !!int {'9' * 5000}\n")
    assert (failure.value.line, failure.value.col) == (2, 4)
    assert "the limit is 4,300" in failure.value.message


def test_a_literal_block_starting_with_a_blank_line_maps_its_lines() -> None:
    doc = yamlsrc.load("a:\n  b: |\n\n      first\n      second\n  c: 1\n")
    assert doc.data == {"a": {"b": "\nfirst\nsecond\n", "c": 1}}
    # Line 1 of the value is the blank line after `|`; the block's indentation is column 7.
    assert doc.blocks[("a", "b")] == yamlsrc.Mark(3, 7)
    assert doc.values[("a", "c")] == yamlsrc.Mark(6, 6)
    assert doc.keys[("a", "c")] == yamlsrc.Mark(6, 3)


def test_a_template_error_in_a_block_with_a_leading_blank_line_is_located() -> None:
    text = """
        flow: f
        start: s
        steps:
          s:
            type: say
            text: |

              Hola.
              Tu saldo: {{ customer.balance | money( }}
            next: bye
          bye: {type: end}
        """
    problems = load(text).problems
    line, col = pos(text, "Tu saldo")
    assert problem_at(problems, line, "invalid template").col == col
