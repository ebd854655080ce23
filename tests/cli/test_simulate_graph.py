"""`centralita simulate` (a piped conversation) and `centralita graph` (Mermaid)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from centralita.bot.loader import load_text
from centralita.bot.model import FALLBACK_HANDOFF
from centralita.cli import main
from tests.bot.helpers import dedent, write

FLOW = """
    flow: cobros
    start: hello
    settings:
      timeout: {after: 15m, remind: "¿Sigues ahí?", max_reminders: 1, then: bye}
    steps:
      hello: {type: say, text: "¡Hola {{ contact.profile_name }}!"}
      doc: {type: ask, text: "Escribe tu documento", slot: document, validate: {type: document}}
      find:
        type: lookup
        document: "{{ slots.document }}"
        on: {found: menu, not_found: unknown, ambiguous: pick, error: unknown}
      pick: {type: menu, text: "¿Cuál cuenta?", options_from: candidates, next: menu}
      unknown: {type: handoff, text: "No te encontré"}
      menu:
        type: menu
        text: "{{ customer.name }}, debes {{ customer.balance | money }}"
        options:
          - {label: Pagar, next: pay-now}
          - {label: "Hablar con \\"alguien\\"", next: pay_now}
      pay-now: {type: end, text: "Gracias"}
      pay_now:
        type: branch
        branches: [{if: "customer.balance > 100", then: agent}]
        else: bye
      agent: {type: handoff, text: "Te paso", campaign: cobros}
      bye: {type: end, text: "Chao"}
    """

CSV = (
    "documento;nombre;campaign;saldo\n1012345678;Ana;castigada;150000\n555;Luis;a;1\n555;Luis;b;2\n"
)


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    write(folder, "cobros.yaml", FLOW)
    return folder


def simulate(runner: CliRunner, *args: str, input: str, env: dict[str, str] | None = None):
    return runner.invoke(main, ["simulate", *args], input=input, env=env, catch_exceptions=False)


def test_piped_conversation_with_commands(runner: CliRunner, flows: Path, tmp_path: Path) -> None:
    customers = write(tmp_path, "customers.csv", CSV.replace("saldo", "balance"))
    lines = [
        "hola",
        "1.012.345.678",
        "/slots",
        "/wait 15m",
        "/wait soon",
        "/foo",
        "/state",
        "/restart",
        "/slots",
        "hola",
        "/quit",
        "never read",
    ]
    result = simulate(
        runner,
        "cobros",
        "--customers",
        str(customers),
        "--name",
        "Ana",
        input="\n".join(lines) + "\n",
        env={"FLOWS_DIR": str(flows)},
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "you> hola\nbot> ¡Hola Ana!\nbot> Escribe tu documento\n" in out
    assert "(customer 1012345678 of campaign castigada)" in out
    assert 'bot> Ana, debes $150.000\n     1. Pagar\n     2. Hablar con "alguien"' in out
    assert '{\n  "document": "1012345678"\n}' in out
    assert "bot> ¿Sigues ahí?" in out
    assert "(error: 'soon' is not a duration" in out
    assert "(unknown command /foo; /help lists them)" in out
    state_text = out.split("you> /state\n", 1)[1].split("you> /restart", 1)[0]
    state = json.loads(state_text)
    assert state["step"] == "menu" and state["reminders"] == 1
    assert state["customer"]["name"] == "Ana"
    assert "(new chat: write something to start)\nyou> /slots\n(no chat yet)" in out
    assert out.count("bot> ¡Hola Ana!") == 2
    assert "never read" not in out


def test_the_clock_command_fires_the_timeout(runner: CliRunner, flows: Path) -> None:
    result = simulate(runner, str(flows / "cobros.yaml"), input="hola\n/wait 1h\nhola?\n")
    out = result.stdout
    assert "bot> ¿Sigues ahí?\nbot> Chao\n(chat closed: bot_completed)" in out
    # Writing after the close starts a new chat.
    assert out.count("bot> Escribe tu documento") == 2


def test_after_a_handoff_the_bot_is_silent(runner: CliRunner, flows: Path) -> None:
    result = simulate(runner, str(flows / "cobros.yaml"), input="hola\n999\nholaaa\n")
    out = result.stdout
    assert "bot> No te encontré\n(handed to an agent: campaign=-, reason=flow)" in out
    assert "you> holaaa\n(the chat is with an agent" in out


def test_customers_from_a_flow_test_file(runner: CliRunner, flows: Path, tmp_path: Path) -> None:
    fixtures = write(
        tmp_path,
        "customers.yaml",
        """
        campaigns:
          - {slug: a, name: Cartera A}
          - {slug: b, name: Cartera B}
        customers:
          - {campaign: a, document: "555", name: Luis, balance: 50}
          - {campaign: b, document: "555", name: Luis, balance: 500}
        """,
    )
    result = simulate(
        runner, str(flows / "cobros.yaml"), "--customers", str(fixtures), input="hola\n555\n2\n2\n"
    )
    out = result.stdout
    assert "bot> ¿Cuál cuenta?\n     1. Cartera A\n     2. Cartera B" in out
    assert "(customer 555 of campaign b)" in out
    assert "bot> Te paso\n(handed to an agent: campaign=cobros, reason=flow)" in out


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.yaml", "customers: [\n"),
        ("list.yaml", "- a\n- b\n"),
        ("rows.yaml", "customers: [1, 2]\n"),
        ("nodoc.csv", "nombre,saldo\nAna,1\n"),
        ("latin1.csv", "documento,nombre\n1,Mar\xeda\n".encode("latin-1")),
    ],
)
def test_unusable_customer_files_are_errors_not_crashes(
    runner: CliRunner, flows: Path, tmp_path: Path, name: str, content: str | bytes
) -> None:
    path = write(tmp_path, name, content.encode() if isinstance(content, str) else content)
    result = simulate(runner, str(flows / "cobros.yaml"), "--customers", str(path), input="hola\n")
    assert result.exit_code == 1, result.output
    assert name in result.stderr
    assert "bug in Centralita" not in result.stderr


def test_simulate_an_unknown_flow(runner: CliRunner, flows: Path) -> None:
    result = simulate(runner, "nope", input="", env={"FLOWS_DIR": str(flows)})
    assert result.exit_code == 1
    assert "no valid flow 'nope'" in result.stderr


# -- graph -----------------------------------------------------------------------------------


def graph(runner: CliRunner, *args: str, env: dict[str, str] | None = None):
    return runner.invoke(main, ["graph", *args], env=env, catch_exceptions=False)


def test_graph_has_every_step_and_labelled_edges(runner: CliRunner, flows: Path) -> None:
    result = graph(runner, "cobros", "--format", "mermaid", env={"FLOWS_DIR": str(flows)})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("flowchart TD\n")
    flow = load_text(dedent(FLOW), "cobros.yaml").flow
    assert flow is not None
    nodes = dict(re.findall(r"^    (s_\w+)\W.*?\"(\S+?)<br/>", out, re.MULTILINE))
    assert sorted(nodes.values()) == sorted(flow.steps)  # every step, once
    node = {step: node_id for node_id, step in nodes.items()}
    assert node["pay-now"] != node["pay_now"]
    edges = [
        f"start --> {node['hello']}",
        f"{node['hello']} --> {node['doc']}",
        f"{node['find']} -->|found| {node['menu']}",
        f"{node['find']} -->|not found| {node['unknown']}",
        f"{node['find']} -->|ambiguous| {node['pick']}",
        f"{node['menu']} -->|1. Pagar| {node['pay-now']}",
        f"{node['menu']} -->|2. Hablar con #quot;alguien#quot;| {node['pay_now']}",
        f"{node['pay_now']} -->|if #1| {node['agent']}",
        f"{node['pay_now']} -->|else| {node['bye']}",
        f"{node['doc']} -.->|exhausted| {node[FALLBACK_HANDOFF]}",
        f"{node['doc']} -.->|silence| {node['bye']}",
        f"{node['pick']} --> {node['menu']}",
    ]
    for edge in edges:
        assert f"    {edge}\n" in out, edge


def test_graph_of_an_invalid_flow_names_its_problems(runner: CliRunner, flows: Path) -> None:
    bad = write(
        flows,
        "bad.yaml",
        FLOW.replace("flow: cobros", "flow: bad").replace("else: bye", "else: by"),
    )
    result = graph(runner, str(bad))
    assert result.exit_code == 1
    assert "'by'" in result.stdout
    assert "no valid flow" in result.stderr


def test_simulating_a_file_runs_that_file_not_another_with_its_id(
    runner: CliRunner, tmp_path: Path
) -> None:
    one = 'flow: twin\nstart: s\nsteps:\n  s: {type: end, text: "Soy {{ contact.phone }}"}\n'
    write(tmp_path, "a.yaml", one.encode())
    b = write(tmp_path, "b.yaml", one.replace("Soy", "Otro").encode())
    result = simulate(runner, str(b), input="hola\n")
    # b.yaml reuses a.yaml's id: validate rejects it, and so does simulate, rather than
    # chatting under b.yaml's name with a.yaml's texts.
    assert result.exit_code == 1
    assert "Soy" not in result.stdout
    assert "is also used by" in result.stdout
    result = simulate(runner, str(tmp_path / "a.yaml"), input="hola\n")
    assert "bot> Soy +573001234567" in result.stdout
