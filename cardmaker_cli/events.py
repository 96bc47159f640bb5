"""`cardmaker events`: the latest lifecycle events, as the LifecycleBus's archive rule wrote
them to the ``LifecycleEventsLogGroupName`` log group (the same read on AWS and on the local
stack, where moto's EventBridge delivers to the log group as EventBridge does).

Events are shown once each by their ``event_id`` (the stream may hand a change over twice,
and each copy is published), oldest first, the last ``--limit`` of them.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import botocore.exceptions
import typer

from cardmaker_cli.context import target
from cardmaker_cli.errors import from_aws_error
from cardmaker_cli.options import OwnSign, order_key
from cardmaker_cli.output import rows_table, stderr, stdout

if TYPE_CHECKING:
    from cardmaker import OrderKey
    from cardmaker_cli.target import Target

DEFAULT_SINCE_HOURS = 24
# FilterLogEvents reads a page at a time; a run stops after this many pages (a week of a busy
# stack's events is far fewer).
MAX_PAGES = 200


def show_events(
    ctx: typer.Context,
    order: Annotated[
        str | None,
        typer.Option(
            "--order", metavar="ORDER", help="Only this order's events (16002 or CM-daily-16002)."
        ),
    ] = None,
    own_sign: Annotated[
        OwnSign | None,
        typer.Option(help="The order's environment; without --order, only its events."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Show the last N events.")] = 20,
    since_hours: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="How far back to look, in hours (0: everything the log group keeps). "
            f"Default {DEFAULT_SINCE_HOURS}, or everything with --order.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The events as EventBridge delivered them.")
    ] = False,
) -> None:
    """The latest lifecycle events (orders received, generated, made, shipped, confirmed,
    failed; deliveries delivered, partial, failed), as integrators get them from the
    LifecycleBus (docs/events.md)."""
    key = order_key(ctx, order, own_sign) if order is not None else None
    stack = target(ctx)
    hours = since_hours if since_hours is not None else (0 if key else DEFAULT_SINCE_HOURS)
    environment = own_sign.value if own_sign is not None and key is None else None
    events = latest_events(stack, key, environment, limit=limit, since_hours=hours)
    if as_json:
        typer.echo(json.dumps(events, ensure_ascii=False, indent=2))
        return
    if not events:
        stderr.print("no events")
        return
    columns = ["time", "detail-type", "order", "delivery", "status", "about"]
    rows = (_row(event) for event in events)
    stdout.print(rows_table(f"{len(events)} event(s)", columns, rows))


def latest_events(
    stack: Target,
    key: OrderKey | None,
    own_sign: str | None = None,
    *,
    limit: int,
    since_hours: int,
) -> list[dict[str, Any]]:
    """The last ``limit`` distinct events (of ``key``'s order, or of the environment
    ``own_sign``, if given), oldest first."""
    group = stack.output("LifecycleEventsLogGroupName")
    request: dict[str, Any] = {"logGroupName": group, "interleaved": True}
    if since_hours:
        request["startTime"] = int((time.time() - since_hours * 3600) * 1000)
    if key is not None:
        # CloudWatch Logs matches the JSON pattern itself; the check below says the same
        # wherever a pattern is not understood.
        request["filterPattern"] = f'{{ $.detail.making_card_no = "{key.making_card_no}" }}'
    elif own_sign is not None:
        request["filterPattern"] = f'{{ $.detail.own_sign = "{own_sign}" }}'
    logs = stack.client("logs")
    found: dict[str, dict[str, Any]] = {}  # by event_id: a repeat is the same event
    try:
        for _ in range(MAX_PAGES):
            page = logs.filter_log_events(**request)
            for record in page.get("events", []):
                event = _event(record.get("message", ""))
                if event is not None and _about(event, key, own_sign):
                    found.setdefault(_event_id(event), event)
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise from_aws_error(error, "cannot read the lifecycle events") from None
    # EventBridge keeps no order between events: the change's own time does.
    ordered = sorted(found.values(), key=lambda event: str(event["detail"].get("time", "")))
    return ordered[-limit:]


def _event(message: str) -> dict[str, Any] | None:
    try:
        event = json.loads(message)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        return None
    return event


def _event_id(event: dict[str, Any]) -> str:
    return str(event["detail"].get("event_id") or event.get("id"))


def _about(event: dict[str, Any], key: OrderKey | None, own_sign: str | None) -> bool:
    detail = event["detail"]
    if key is not None:
        return bool(detail.get("making_card_no") == key.making_card_no)
    return own_sign is None or detail.get("own_sign") == own_sign


def _row(event: dict[str, Any]) -> list[Any]:
    detail = event["detail"]
    about: list[str] = []
    if "waybill" in detail:
        waybill = detail["waybill"]
        about.append(f"{waybill.get('logistics_company')} {waybill.get('logistics_order_id')}")
    if "cards" in detail:
        counts = ", ".join(f"{name} {count}" for name, count in detail["cards"].items())
        about.append(f"{detail.get('type')} {detail.get('template_no')} x{detail.get('quantity')}")
        if counts:
            about.append(counts)
    if detail.get("failure_reason"):
        about.append(str(detail["failure_reason"]))
    if "card_count" in detail:
        about.append(f"{detail['card_count']} cards")
    return [
        detail.get("time"),
        event.get("detail-type"),
        detail.get("making_card_no"),
        detail.get("delivery_id"),
        detail.get("status"),
        "; ".join(about),
    ]
