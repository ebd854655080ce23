"""Flow tooling commands: validate, test, simulate, graph. Thin: the work is in centralita.bot."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from centralita.bot.directory import MemoryDirectory
from centralita.bot.engine import Contact
from centralita.bot.graph import mermaid
from centralita.bot.loader import FlowSet, flow_files, load_file, load_paths
from centralita.bot.model import Flow
from centralita.bot.problems import Problem
from centralita.bot.simulate import Simulator
from centralita.bot.testing import Report, run_flow_tests
from centralita.bot.yamlsrc import YamlError, load

F = TypeVar("F", bound=Callable[..., Any])


def flows_dir() -> Path:
    # FLOWS_DIR as in the contract; read directly so flow tools need no SECRET_KEY or database.
    return Path(os.environ.get("FLOWS_DIR") or "flows")


def no_traceback(func: F) -> F:
    """Whatever the input, a flow author sees a sentence, not a Python traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the CLI boundary
            click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            click.echo(
                "This is a bug in Centralita; please report it with the file that caused it.",
                err=True,
            )
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _color(text: str, color: str) -> str:
    return click.style(text, fg=color)


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        line = problem.format()
        click.echo(_color(line, "red" if problem.severity == "error" else "yellow"))


def resolve_flow(name: str) -> tuple[Flow | None, FlowSet, list[Problem]]:
    """A flow by id (in FLOWS_DIR) or by path; its folder's flows come along for `flow` calls."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        flows, _, problems = load_paths([path.parent])
        single = load_file(path)
        problems = sorted(set(problems) | set(single.problems))
        # Only run the file if its folder serves it under its id: another file may use the
        # same id (then the engine, looking flows up by id, would run that one instead).
        served = flows.current(single.flow.id) if single.flow is not None else None
        same = served is not None and single.flow is not None and served.path == single.flow.path
        return (single.flow if same else None), flows, problems
    flows, _, problems = load_paths([flows_dir()])
    return flows.current(name), flows, problems


def register(group: click.Group) -> None:
    group.add_command(validate)
    group.add_command(test)
    group.add_command(simulate)
    group.add_command(graph)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@no_traceback
def validate(paths: tuple[Path, ...], fmt: str) -> None:
    """Check flow files (default: FLOWS_DIR). One line per problem: FILE:LINE:COL: message."""
    targets = list(paths) or [flows_dir()]
    # A file is checked with its folder's flows around it: the flows it calls, the slots
    # they set. Only the named files' problems are reported.
    context = sorted({p.parent for p in targets if p.is_file()})
    flows, loaded, problems = load_paths(targets, context=context)
    loaded = [item for item in loaded if item.file in {str(p) for p in _named(targets)}]
    errors = [p for p in problems if p.severity == "error"]
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "valid": not errors,
                    "files": [item.file for item in loaded],
                    "flows": sorted(flows.flows),
                    "problems": [p.to_json() for p in problems],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        _print_problems(problems)
        warnings = len(problems) - len(errors)
        summary = f"{len(loaded)} file(s) checked: {len(errors)} error(s), {warnings} warning(s)"
        click.echo(_color(summary, "red" if errors else "green"), err=True)
    sys.exit(1 if errors else 0)


def _named(targets: list[Path]) -> list[Path]:
    files, _ = flow_files(targets)
    return files


def _print_report(report: Report, flows: FlowSet) -> None:
    current = None
    for result in report.results:
        if result.file != current:
            current = result.file
            click.echo(click.style(current, bold=True))
        if result.passed:
            click.echo("  " + _color("✓", "green") + f" {result.name}")
            continue
        failure = result.failure
        assert failure is not None
        click.echo("  " + _color("✗", "red") + f" {result.name}")
        click.echo(f"      {result.file}:{failure.line}:{failure.col}: {failure.message}")
        for line in failure.diff():
            color = (
                "red"
                if line.startswith(("-", "expected"))
                else "green"
                if line.startswith(("+", "actual"))
                else None
            )
            click.echo("        " + (_color(line, color) if color else line))
        if failure.transcript:
            click.echo("      conversation so far:")
            for line in failure.transcript:
                click.echo("        " + line.replace("\n", "\n        "))
    for flow_id, visited, total, missing in report.coverage(flows):
        line = f"coverage: {flow_id} {visited}/{total} steps"
        line += f"; not visited: {', '.join(missing)}" if missing else " (all visited)"
        click.echo(_color(line, "yellow" if missing else "green"))


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--flows",
    "flows_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of the flows under test (default: FLOWS_DIR).",
)
@click.option("-k", "name_filter", default=None, help="Only cases whose name contains this.")
@no_traceback
def test(paths: tuple[Path, ...], flows_path: Path | None, name_filter: str | None) -> None:
    """Run flow test files (default: FLOWS_DIR/tests). No database needed."""
    folder = flows_path or flows_dir()
    flows, _, flow_problems = load_paths([folder])
    _print_problems([p for p in flow_problems if p.severity == "error"])
    report = run_flow_tests(list(paths) or [folder / "tests"], flows, name_filter=name_filter)
    _print_problems(report.problems)
    _print_report(report, flows)
    summary = f"{report.passed} passed, {report.failed} failed"
    click.echo(_color(summary, "green" if report.ok else "red"))
    if not report.results and not report.problems:
        click.echo("no test cases found", err=True)
    sys.exit(0 if report.ok and report.results else 1)


@click.command()
@click.argument("flow")
@click.option(
    "--customers",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Customers for lookups: a customer CSV (optional campaign column) or a flow test file.",
)
@click.option("--language", default=None, help="Start the chat in this language (e.g. en).")
@click.option(
    "--name",
    "profile_name",
    default="Cliente",
    show_default=True,
    help="The customer's WhatsApp name.",
)
@click.option("--phone", default="+573001234567", show_default=True, help="The customer's phone.")
@no_traceback
def simulate(
    flow: str, customers: Path | None, language: str | None, profile_name: str, phone: str
) -> None:
    """Chat with FLOW (an id in FLOWS_DIR, or a file) in the terminal."""
    found, flows, problems = resolve_flow(flow)
    errors = [p for p in problems if p.severity == "error"]
    if found is None:
        _print_problems(errors)
        raise click.ClickException(f"no valid flow {flow!r}; run `centralita validate` for details")
    directory = _directory(customers) if customers else MemoryDirectory()
    sim = Simulator(
        flows,
        found.id,
        directory,
        contact=Contact(f"whatsapp:{phone}", profile_name),
        language=language,
    )
    interactive = sys.stdin.isatty()
    click.echo(
        f"Chatting with {found.id} ({found.path}). /help for commands, Ctrl-D to leave.", err=True
    )
    while True:
        try:
            line = input("you> ") if interactive else sys.stdin.readline()
        except EOFError:
            break
        if not interactive:
            if not line:
                break
            click.echo(f"you> {line.rstrip()}")
        try:
            for out in sim.handle(line):
                click.echo(out)
        except EOFError:
            break
    sys.exit(0)


def _directory(path: Path) -> MemoryDirectory:
    """Customers from a CSV or a flow test file; a file we cannot use is the user's error,
    said in a sentence, not a crash."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        if path.suffix in (".yaml", ".yml"):
            data = load(text).data
            if not isinstance(data, dict):
                raise click.ClickException(
                    f"{path}: expected campaigns: and customers: as in a flow test file"
                )
            return MemoryDirectory.from_fixtures(data)
        return MemoryDirectory.from_csv(text)
    except YamlError as exc:
        raise click.ClickException(f"{path}:{exc.line}:{exc.col}: {exc.message}") from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not valid UTF-8; save it as UTF-8") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise click.ClickException(f"{path}: cannot read customers: {exc}") from exc


@click.command()
@click.argument("flow")
@click.option(
    "--format", "fmt", type=click.Choice(["mermaid"]), default="mermaid", show_default=True
)
@no_traceback
def graph(flow: str, fmt: str) -> None:
    """Print FLOW (an id in FLOWS_DIR, or a file) as a diagram."""
    found, _, problems = resolve_flow(flow)
    if found is None:
        _print_problems([p for p in problems if p.severity == "error"])
        raise click.ClickException(f"no valid flow {flow!r}; run `centralita validate` for details")
    click.echo(mermaid(found), nl=False)
