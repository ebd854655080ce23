"""The `centralita` command line: thin commands over the packages that do the work."""

from __future__ import annotations

import click

from centralita.cli import campaigns as campaign_commands
from centralita.cli import customers as customer_commands
from centralita.cli import db as db_commands
from centralita.cli import demo as demo_commands
from centralita.cli import flows as flow_commands
from centralita.cli import numbers as number_commands
from centralita.cli import runtime_commands
from centralita.cli import senders as sender_commands
from centralita.cli import users as user_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="centralita")
def main() -> None:
    """Centralita: WhatsApp bots, routing to agents, chat lifecycle, calls and leads."""


flow_commands.register(main)
db_commands.register(main)
number_commands.register(main)
runtime_commands.register(main)
sender_commands.register(main)
user_commands.register(main)
campaign_commands.register(main)
customer_commands.register(main)
demo_commands.register(main)
