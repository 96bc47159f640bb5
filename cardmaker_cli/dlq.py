"""`cardmaker dlq`: the stream batches the functions gave up on (the GeneratorFailures,
DeliveryFailures, EventsFailures, NotifierFailures and FulfilmentFailures queues), listed and
replayed.

Replaying a batch reads its records back from the stream, invokes the function with them
synchronously, and deletes the message only if the function succeeded with no failed
records. The functions are idempotent, so a replay is safe; ``--reopen`` first puts a FAILED
order, delivery or platform notification back where the replay can do the work again (and
replays the chunks of a reopened order that stood down when it failed: see chunk_replay.py).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import botocore.exceptions
import typer
from botocore.config import Config
from rich.table import Table
from rich.text import Text

from cardmaker import (
    DeliveryNotFound,
    DynamoDBDeliveryRepository,
    DynamoDBGenerationRepository,
    DynamoDBLifecycleRepository,
    GenerateChunk,
    NoticeState,
    OrderKey,
    OrderNotFound,
    OrderStatus,
    PlanOrder,
    SendDelivery,
    delivery_task,
    fulfilment_task,
    generation_task,
    lifecycle_change,
    notification_task,
    reopen_delivery,
    reopen_notices,
    reopen_order,
)
from cardmaker_cli.audit import put_on_record
from cardmaker_cli.chunk_replay import uncounted_chunk_records
from cardmaker_cli.context import target
from cardmaker_cli.errors import CliError, from_aws_error
from cardmaker_cli.output import stderr, stdout
from cardmaker_cli.stream_batches import (
    BatchUnavailable,
    FailedBatch,
    batch_records,
    failed_batch,
    peek,
    release,
)

if TYPE_CHECKING:
    from cardmaker_cli.target import Target

dlq_app = typer.Typer(
    no_args_is_help=True,
    help="The stream batches the functions gave up on: list them, replay them.",
)

LIST_HOLD_SECONDS = 30  # a peek hides messages this long at most (released at once after)
# While a batch is replayed its message stays hidden (as long as a function may run); if the
# command dies meanwhile, the message comes back after this.
REDRIVE_HOLD_SECONDS = 900
ERROR_MESSAGE_LIMIT = 200
CHUNKS_PER_INVOCATION = 10  # a chunk takes about a second; the generator has 60


class QueueChoice(StrEnum):
    generator = "generator"
    delivery = "delivery"
    events = "events"
    notifier = "notifier"
    fulfilment = "fulfilment"
    all = "all"


@dataclass(frozen=True)
class FailureQueue:
    """An on-failure queue, the function whose batches it keeps, and which stream records
    that function's filters let through (the layer's own check of the same)."""

    name: str
    queue_output: str
    function_output: str
    wanted: Callable[[dict[str, Any]], bool]


def _generator_wants(record: dict[str, Any]) -> bool:
    return generation_task(record) is not None


def _delivery_wants(record: dict[str, Any]) -> bool:
    return delivery_task(record) is not None


def _events_wants(record: dict[str, Any]) -> bool:
    return lifecycle_change(record) is not None


def _notifier_wants(record: dict[str, Any]) -> bool:
    return notification_task(record) is not None


def _fulfilment_wants(record: dict[str, Any]) -> bool:
    return fulfilment_task(record) is not None


QUEUES = {
    "generator": FailureQueue(
        "generator", "GeneratorFailuresQueueUrl", "CardGeneratorFunctionName", _generator_wants
    ),
    "delivery": FailureQueue(
        "delivery", "DeliveryFailuresQueueUrl", "CardDeliveryFunctionName", _delivery_wants
    ),
    # Publishing an event changes nothing to reopen: a replay publishes it again (subscribers
    # drop the repeat by its event_id).
    "events": FailureQueue(
        "events", "EventsFailuresQueueUrl", "LifecycleEventsFunctionName", _events_wants
    ),
    "notifier": FailureQueue(
        "notifier", "NotifierFailuresQueueUrl", "PlatformNotifierFunctionName", _notifier_wants
    ),
    # Acting on a notice is idempotent (a send's delivery is created once per order): a
    # replay acts again, with nothing to reopen.
    "fulfilment": FailureQueue(
        "fulfilment",
        "FulfilmentFailuresQueueUrl",
        "EticketFulfilmentFunctionName",
        _fulfilment_wants,
    ),
}


@dataclass(frozen=True)
class Notices:
    """What a notifier batch is about: the platform notifications of one order."""

    order: OrderKey


Subject = OrderKey | str | Notices

QueueOption = Annotated[QueueChoice, typer.Option("--queue", "-q", help="Which on-failure queue.")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout, for scripts.")]


def _queues(choice: QueueChoice) -> list[FailureQueue]:
    return list(QUEUES.values()) if choice is QueueChoice.all else [QUEUES[choice.value]]


# --- list ----------------------------------------------------------------------------------


@dlq_app.command("list", short_help="The failed batches, without consuming them.")
def list_batches(
    ctx: typer.Context,
    queue: QueueOption = QueueChoice.all,
    as_json: JsonOption = False,
) -> None:
    """Each failed batch: queue, function, when and why it failed, shard, sequence range,
    batch size, receive count. Looking consumes nothing: every message is put back."""
    stack = target(ctx)
    batches: list[FailedBatch] = []
    for failures in _queues(queue):
        url = stack.output(failures.queue_output)
        sqs = stack.client("sqs")
        try:
            messages = peek(
                sqs, url, hold_seconds=LIST_HOLD_SECONDS, wait_seconds=_wait_seconds(stack)
            )
            release(sqs, url, messages)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise from_aws_error(error, f"cannot read the {failures.name} failures queue") from None
        batches += [failed_batch(failures.name, message) for message in messages]
    if as_json:
        typer.echo(json.dumps([batch.view() for batch in batches], indent=2))
        return
    if not batches:
        stderr.print("no failed batches")
        return
    stdout.print(_batches_table(batches))


def _batches_table(batches: list[FailedBatch]) -> Table:
    table = Table(title=f"{len(batches)} failed batch(es)", title_justify="left")
    for column in (
        "queue",
        "message",
        "function",
        "failed at",
        "reason",
        "shard",
        "sequence numbers",
        "batch",
        "receives",
    ):
        table.add_column(column)
    for batch in batches:
        table.add_row(
            *(
                Text(cell)  # never markup: the values come from the queue
                for cell in (
                    batch.queue,
                    batch.message_id,
                    batch.function,
                    batch.failed_at,
                    batch.reason,
                    batch.shard_id,
                    batch.sequences,
                    "" if batch.batch_size is None else str(batch.batch_size),
                    str(batch.receive_count),
                )
            )
        )
    return table


def _wait_seconds(stack: Target) -> int:
    # SQS's short polling samples some of its servers only, so an empty answer is not proof
    # of an empty queue on AWS; moto answers from one place.
    return 0 if stack.local else 1


# --- redrive -------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of one message."""

    queue: str
    message_id: str
    result: str  # redriven, failing, expired, skipped, dry-run
    detail: str = ""
    records: int | None = None
    reopened: tuple[str, ...] = ()
    # Orders this message's --reopen moved from FAILED back to GENERATING.
    resumed: tuple[OrderKey, ...] = ()
    # The orders the message's records are about (for the audit trail).
    orders: tuple[OrderKey, ...] = ()

    def view(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "message_id": self.message_id,
            "result": self.result,
            "detail": self.detail,
            "records": self.records,
            "reopened": list(self.reopened),
        }


@dlq_app.command("redrive", short_help="Replay failed batches; delete the messages that succeed.")
def redrive(
    ctx: typer.Context,
    queue: QueueOption = QueueChoice.all,
    message_id: Annotated[
        str | None, typer.Option("--message-id", help="Only this message (see `dlq list`).")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Read the records, say what would happen, change nothing."),
    ] = False,
    reopen: Annotated[
        bool,
        typer.Option(
            "--reopen",
            help="First move a FAILED order back to GENERATING (RECEIVED if never planned), "
            "a delivery that gave up back to SENDING (same cards, same ids) and a FAILED "
            "platform notification back to PENDING; otherwise their records replay as no-ops. "
            "A reopened order's chunks that stood down when it failed are replayed too.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Replay failed batches: read their records back from the stream, invoke the function
    with them, and delete each message only if the function succeeded for every record. A
    batch whose order or delivery is FAILED is left alone unless --reopen (its replay would
    succeed without doing anything). Exit code 1 if any message is left in its queue."""
    stack = target(ctx)
    outcomes: list[Outcome] = []
    for failures in _queues(queue):
        outcomes += _redrive_queue(stack, failures, message_id, dry_run=dry_run, reopen=reopen)
    if message_id is not None and not outcomes:
        raise CliError(f"no message {message_id} in the {queue.value} failures queue(s)")
    if as_json:
        typer.echo(json.dumps([outcome.view() for outcome in outcomes], indent=2))
    elif not outcomes:
        stderr.print("no failed batches")
    else:
        stdout.print(_outcomes_table(outcomes, dry_run=dry_run))
    if any(outcome.result in ("failing", "expired", "skipped") for outcome in outcomes):
        raise typer.Exit(1)


def _redrive_queue(
    stack: Target, failures: FailureQueue, message_id: str | None, *, dry_run: bool, reopen: bool
) -> list[Outcome]:
    sqs = stack.client("sqs")
    url = stack.output(failures.queue_output)
    function = stack.output(failures.function_output)
    try:
        messages = peek(
            sqs, url, hold_seconds=REDRIVE_HOLD_SECONDS, wait_seconds=_wait_seconds(stack)
        )
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise from_aws_error(error, f"cannot read the {failures.name} failures queue") from None
    chosen = [m for m in messages if message_id is None or m["MessageId"] == message_id]
    outcomes: list[Outcome] = []
    try:
        release(sqs, url, [m for m in messages if m not in chosen])
        for message in chosen:
            outcome = _redrive_one(stack, failures, function, message, dry_run, reopen)
            if outcome.result == "redriven":
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                release(sqs, url, [message])
            outcomes.append(outcome)
            if not dry_run:
                _put_on_record(stack, outcome)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        left = [m for m in chosen if m["MessageId"] not in {o.message_id for o in outcomes}]
        # Put back what was not settled, as far as the queue still answers.
        with contextlib.suppress(
            botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError
        ):
            release(sqs, url, left)
        raise from_aws_error(error, f"redrive of the {failures.name} queue stopped") from None
    if failures.name == "generator" and reopen and not dry_run:
        replays = _replay_stood_down(stack, function, outcomes)
        for replay in replays:
            _put_on_record(stack, replay)
        outcomes += replays
    return outcomes


def _put_on_record(stack: Target, outcome: Outcome) -> None:
    """What this message's redrive changed, on the audit trail: the reopens, then the
    replay if it succeeded. A replay that failed again changed nothing to record."""
    order = outcome.orders[0] if len(outcome.orders) == 1 else None
    common: dict[str, str | int] = {"queue": outcome.queue}
    if len(outcome.orders) > 1:
        common["orders"] = ", ".join(key.making_card_no for key in outcome.orders)[:200]
    if outcome.reopened:
        put_on_record(
            stack,
            "dlq.reopened",
            outcome.message_id,
            order=order,
            details={**common, "reopened": "; ".join(outcome.reopened)[:200]},
        )
    if outcome.result == "redriven":
        put_on_record(
            stack,
            "dlq.redriven",
            outcome.message_id,
            order=order,
            details={**common, "records": outcome.records or 0},
        )


def _redrive_one(
    stack: Target,
    failures: FailureQueue,
    function: str,
    message: dict[str, Any],
    dry_run: bool,
    reopen: bool,
) -> Outcome:
    batch = failed_batch(failures.name, message)
    outcome = Outcome(failures.name, batch.message_id, "skipped")
    if batch.problem:
        outcome.detail = batch.problem
        return outcome
    try:
        records = batch_records(stack.client("dynamodbstreams"), batch, failures.wanted)
    except BatchUnavailable as unavailable:
        outcome.result = "expired" if unavailable.expired else "failing"
        outcome.detail = unavailable.message
        return outcome
    outcome.records = len(records)
    subjects = _subjects(failures, records)
    outcome.orders = tuple(_orders_of(subjects))
    if dry_run:
        outcome.result = "dry-run"
        outcome.detail = (
            f"{len(records)} event(s) would be published again"
            if failures.name == "events"
            else _describe_subjects(stack, subjects, reopen)
        )
        return outcome
    if reopen:
        outcome.reopened, outcome.resumed = _reopen(stack, subjects)
    failed = [subject for subject in subjects if _status(stack, subject) == "FAILED"]
    if failed:
        # The replay would succeed without doing anything, and the message would be lost.
        outcome.detail = f"{', '.join(map(_name, failed))} FAILED: replaying would do nothing"
        if not reopen:
            outcome.detail += " (use --reopen)"
        return outcome
    outcome.result, outcome.detail = _invoke(stack, function, records)
    return outcome


# --- what a batch is about ----------------------------------------------------------------


def _subjects(failures: FailureQueue, records: list[dict[str, Any]]) -> list[Subject]:
    """The orders (generator), deliveries (delivery function) and orders' notifications
    (notifier) the records concern, once each, in order. An order becoming GENERATED only
    wakes deliveries: nothing to reopen."""
    subjects: list[Subject] = []
    for record in records:
        subject: Subject | None = None
        if failures.name == "notifier":
            noticed = notification_task(record)
            subject = Notices(noticed.order) if noticed is not None else None
        elif failures.name == "generator":
            task = generation_task(record)
            if isinstance(task, PlanOrder):
                subject = task.order
            elif isinstance(task, GenerateChunk):
                subject = task.chunk.order
        elif failures.name == "delivery":
            sending = delivery_task(record)
            subject = sending.delivery_id if isinstance(sending, SendDelivery) else None
        if subject is not None and subject not in subjects:
            subjects.append(subject)
    return subjects


def _orders_of(subjects: list[Subject]) -> list[OrderKey]:
    """The orders among the subjects (a delivery's order is not read for this)."""
    keys = [s.order if isinstance(s, Notices) else s for s in subjects if not isinstance(s, str)]
    return list(dict.fromkeys(keys))


def _orders(stack: Target) -> DynamoDBGenerationRepository:
    return DynamoDBGenerationRepository(stack.output("OrdersTableName"), stack.client("dynamodb"))


def _deliveries(stack: Target) -> DynamoDBDeliveryRepository:
    return DynamoDBDeliveryRepository(stack.output("DeliveriesTableName"), stack.client("dynamodb"))


def _lifecycle(stack: Target) -> DynamoDBLifecycleRepository:
    return DynamoDBLifecycleRepository(stack.output("OrdersTableName"), stack.client("dynamodb"))


def _name(subject: Subject) -> str:
    if isinstance(subject, Notices):
        return f"notifications of order {subject.order.own_sign}/{subject.order.card_order_id}"
    if isinstance(subject, OrderKey):
        return f"order {subject.own_sign}/{subject.card_order_id}"
    return f"delivery {subject}"


def _status(stack: Target, subject: Subject) -> str:
    if isinstance(subject, Notices):
        # FAILED if any is: its replay would send nothing until it is reopened.
        stored = _lifecycle(stack).get(subject.order)
        if stored is None:
            return "missing"
        states = {notice.state for notice in stored.lifecycle.notices.values()}
        for state in (NoticeState.FAILED, NoticeState.PENDING, NoticeState.SENT):
            if state in states:
                return state.value
        return "none"
    if isinstance(subject, OrderKey):
        stored = _orders(stack).get(subject)
        return stored.order.status.value if stored is not None else "missing"
    delivery = _deliveries(stack).get(subject)
    return delivery.status.value if delivery is not None else "missing"


def _describe_subjects(stack: Target, subjects: list[Subject], reopen: bool) -> str:
    """Where each subject stands, and what ``--reopen`` would do to it; changes nothing."""
    parts: list[str] = []
    for subject in subjects:
        status = _status(stack, subject)
        note = ""
        if status == "FAILED":
            note = " (would reopen)" if reopen else " (a no-op unless --reopen)"
        parts.append(f"{_name(subject)} {status}{note}")
    return "; ".join(parts) or "nothing to do for the function"


def _reopen(stack: Target, subjects: list[Subject]) -> tuple[tuple[str, ...], tuple[OrderKey, ...]]:
    """Reopen the FAILED ones; returns a line per subject that changed or stayed FAILED,
    and the orders now GENERATING again."""
    lines: list[str] = []
    resumed: list[OrderKey] = []
    for subject in subjects:
        try:
            if isinstance(subject, Notices):
                key = subject.order
                lines += [
                    f"order {key.own_sign}/{key.card_order_id} {notice.value} FAILED → PENDING"
                    for notice in reopen_notices(_lifecycle(stack), key)
                ]
                continue
            if isinstance(subject, OrderKey):
                order = reopen_order(_orders(stack), subject)
                before, after, note = order.before.value, order.after.value, ""
                if order.changed and order.after is OrderStatus.GENERATING:
                    resumed.append(subject)
            else:
                delivery = reopen_delivery(_deliveries(stack), subject)
                before, after, note = delivery.before.value, delivery.after.value, delivery.note
        except (OrderNotFound, DeliveryNotFound) as missing:
            lines.append(f"{_name(subject)}: {missing.message}")
            continue
        if before != after:
            lines.append(f"{_name(subject)} {before} → {after}")
        elif before == "FAILED":
            lines.append(f"{_name(subject)} stays FAILED{f': {note}' if note else ''}")
    return tuple(lines), tuple(resumed)


def _replay_stood_down(stack: Target, function: str, outcomes: list[Outcome]) -> list[Outcome]:
    """For each order reopened and replayed here, its chunks that stood down when it failed
    (they left no failure record): replayed from their items, a few per invocation."""
    resumed = [key for o in outcomes if o.result == "redriven" for key in o.resumed]
    replays: list[Outcome] = []
    for key in dict.fromkeys(resumed):
        records = uncounted_chunk_records(
            _orders(stack),
            stack.client("dynamodb"),
            stack.output("OrdersTableName"),
            key,
            stack.outputs.get("OrdersTableStreamArn", ""),
        )
        if not records:
            continue
        replay = Outcome(
            "generator", f"({_name(key)})", "redriven", records=len(records), orders=(key,)
        )
        for start in range(0, len(records), CHUNKS_PER_INVOCATION):
            result, detail = _invoke(
                stack, function, records[start : start + CHUNKS_PER_INVOCATION]
            )
            if result != "redriven":
                replay.result, replay.detail = result, detail
                break
        else:
            replay.detail = f"{len(records)} chunk(s) that stood down when the order failed"
        replays.append(replay)
    return replays


# --- invoking ------------------------------------------------------------------------------


def _lambda_client(stack: Target) -> Any:
    # Not the Target's shared client: an invocation may run for the function's whole timeout
    # (up to 15 minutes), and a retried read timeout would run the batch twice.
    endpoint = stack.outputs.get("LambdaEndpointUrl") if stack.local else None
    return stack.session.client(
        "lambda",
        endpoint_url=endpoint,
        config=Config(connect_timeout=5, read_timeout=900, retries={"max_attempts": 1}),
    )


def _invoke(stack: Target, function: str, records: list[dict[str, Any]]) -> tuple[str, str]:
    """Invoke the function with the records, synchronously: (result, detail)."""
    try:
        answer = _lambda_client(stack).invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps({"Records": records}).encode("utf-8"),
        )
        raw = answer["Payload"].read()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        return "failing", str(from_aws_error(error, f"cannot invoke {function}").message)
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = None
    if answer.get("FunctionError"):
        failure = payload if isinstance(payload, dict) else {}
        message = str(failure.get("errorMessage", ""))[:ERROR_MESSAGE_LIMIT]
        return "failing", f"{failure.get('errorType', answer['FunctionError'])}: {message}"
    failed = payload.get("batchItemFailures") if isinstance(payload, dict) else None
    if failed:
        return "failing", f"{len(failed)} of {len(records)} record(s) failed again"
    return "redriven", f"{function} succeeded"


def _outcomes_table(outcomes: list[Outcome], *, dry_run: bool) -> Table:
    title = "dry run: nothing changed" if dry_run else f"{len(outcomes)} message(s)"
    table = Table(title=title, title_justify="left")
    for column in ("queue", "message", "result", "records", "reopened", "detail"):
        table.add_column(column)
    styles = {"redriven": "green", "failing": "red", "expired": "yellow", "skipped": "yellow"}
    for outcome in outcomes:
        table.add_row(
            Text(outcome.queue),
            Text(outcome.message_id),
            Text(outcome.result, style=styles.get(outcome.result, "")),
            Text("" if outcome.records is None else str(outcome.records)),
            Text("\n".join(outcome.reopened)),
            Text(outcome.detail),  # never markup: error messages come from the function
        )
    return table
