"""What every command's `--help` shows besides its own text: an example to copy, and flags
without a type. Applied once to the whole command tree by the root group (main.py), so a new
command only needs its line in ``EXAMPLES`` (tests/cli/test_help.py checks that it has one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup, TyperOption

if TYPE_CHECKING:
    from collections.abc import Iterator

    from typer.core import TyperCommand

# One or two command lines per command, as an operator would type them on the local stack.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "events": ("cardmaker events --order CM-daily-16002", "cardmaker events --limit 50 --json"),
    "platform send-order": (
        "cardmaker platform send-order --card-order-id 16002 --template 3010030E02:500",
        "cardmaker platform send-order --card-order-id 16003 --template 3010030E05:10 --logistics",
    ),
    "platform sign": ("cardmaker platform sign --card-order-id 16002 --body form",),
    "platform template-new": (
        "cardmaker platform template-new --template-no 3010030E09 --card-name 猫超卡 "
        "--par-value 10000",
    ),
    "platform status-query": ("cardmaker platform status-query CM-daily-16002",),
    "platform receipt": ("cardmaker platform receipt CM-daily-16002",),
    "platform notice send": (
        "cardmaker platform notice send --order-id 2701 --num 2 --merchant-code MC-100",
    ),
    "platform notice resend": ("cardmaker platform notice resend --order-id 2701",),
    "platform notice cancel": ("cardmaker platform notice cancel --order-id 2701 --cancel-num 1",),
    "platform notice modified": (
        "cardmaker platform notice modified --order-id 2701 --valid-ends '2027-01-31 23:59:59'",
    ),
    "platform notice order_modify": (
        "cardmaker platform notice order_modify --order-id 2701 --sub-method 1",
    ),
    "orders list": (
        "cardmaker orders list",
        "cardmaker orders list --own-sign online --status GENERATED --all",
    ),
    "orders made": ("cardmaker orders made CM-daily-16002",),
    "orders ship": (
        "cardmaker orders ship CM-daily-16002 --carrier 顺丰速运 --waybill SF1234567890",
    ),
    "orders show": ("cardmaker orders show 16002", "cardmaker orders show CM-online-16002 --json"),
    "deliveries show": ("cardmaker deliveries show ET-0123456789abcdef01234567",),
    "deliveries create eticket": (
        "cardmaker deliveries create eticket --order 16002 --template 3010030E02 --quantity 2 "
        "--outer-id 1753340805138544 --token 31231231231 --wait",
    ),
    "deliveries create bind": (
        "cardmaker deliveries create bind --order 16002 --template 3010030E02 --quantity 3 "
        "--out-biz-id PO-2027-0001 --buyer-nick tb_buyer --wait",
    ),
    "eticket notices": ("cardmaker eticket notices 2701",),
    "eticket products put": (
        "cardmaker eticket products put MC-100 --template 3010030E02 --own-sign daily",
    ),
    "eticket products show": ("cardmaker eticket products show MC-100",),
    "eticket products list": ("cardmaker eticket products list --json",),
    "cards export": (
        "cardmaker cards export 16002 --template 3010030E05 --out cards.csv",
        "cardmaker cards export CM-online-16002 --template 3010030E02 --encrypt-to cards.zip",
    ),
    "cards show": (
        "cardmaker cards show 3101000000000000011",
        "cardmaker cards show 3101000000000000011 --json",
    ),
    "cards release": ("cardmaker cards release CM-daily-16002 --template 3010030E05",),
    "deliveries cancel": ("cardmaker deliveries cancel BD-0123456789abcdef01234567",),
    "deliveries list": (
        "cardmaker deliveries list --order 16002",
        "cardmaker deliveries list --order CM-daily-16002 --all --json",
    ),
    "audit": ("cardmaker audit", "cardmaker audit --order 16002 --json"),
    "dlq list": ("cardmaker dlq list", "cardmaker dlq list --queue fulfilment"),
    "dlq redrive": (
        "cardmaker dlq redrive --dry-run",
        "cardmaker dlq redrive --queue notifier --reopen",
    ),
    "secrets set": ("cardmaker secrets set --app-secret",),
    "secrets show": ("cardmaker secrets show --json",),
}


def commands(group: TyperGroup, path: tuple[str, ...] = ()) -> Iterator[tuple[str, TyperCommand]]:
    """Every command under ``group`` (not the groups), with its path ("orders show")."""
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            yield from commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command  # type: ignore[misc]


def finish_help(root: TyperGroup) -> None:
    """Adds its examples to each command's help and quiets its flags' types: typer shows
    ``<bool>`` after every flag (--json, --help), which says nothing to an operator."""
    quiet_flags(root)
    for group in _groups(root):
        quiet_flags(group)
    for path, command in commands(root):
        quiet_flags(command)
        examples = EXAMPLES.get(path)
        if examples and command.epilog is None:
            # \b keeps the lines as they are (click's rule, which typer's help follows).
            command.epilog = "\b\nExamples:\n" + "\n".join(f"  {line}" for line in examples)


def _groups(group: TyperGroup) -> Iterator[TyperGroup]:
    for command in group.commands.values():
        if isinstance(command, TyperGroup):
            yield command
            yield from _groups(command)


def quiet_flags(command: TyperCommand | TyperGroup) -> None:
    """No type after ``command``'s flags (its own and --help) in its help."""
    # The help option is made on first use and cached on the command: made here, with a
    # context of the command alone (its names are --help either way), to be quieted too.
    help_option = command.get_help_option(typer.Context(command))
    for param in [*command.params, help_option]:
        if isinstance(param, TyperOption) and param.is_flag:
            param.metavar = ""  # typer shows the metavar, when there is one, as the type
