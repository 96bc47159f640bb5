"""Platform notifications (make.finish, status.sended): the notifier's handler with real
DynamoDB stream events from moto, filtered by the template's own filter criteria, and the
fake TOP gateway over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json

import boto3
import pytest

from cardmaker import (
    CardTemplateAnnouncement,
    DynamoDBLifecycleRepository,
    DynamoDBTemplateRegistry,
    OrderKey,
    PlatformNotice,
    TopError,
    Waybill,
    dynamodb_client,
    reopen_notices,
    runtime,
)
from cardmaker.top import FixedCredentials, TopClient, utc_now
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET, sample_order
from cardmaker_cli.stream_records import lambda_record
from local.apigw import LambdaContext
from local.platform import sign_demo_call
from local.streams import mapping_settings, passes, streams_client
from local.template import functions
from local.top_gateway import FakeTopGateway, Fault
from tests.conftest import SESSION_KEY, order_event, spi_event
from tests.metrics import emitted_metrics

MAKE_FINISH = "alibaba.fundplatform.cardorders.status.make.finish"
STATUS_SENDED = "alibaba.fundplatform.cardorders.status.sended"
ORDER = OrderKey("daily", 16002)
WAYBILL = Waybill(logistics_company="顺丰速运", logistics_order_id="SF1234567890")
NOTIFIER = "PlatformNotifierFunction"


def _filters(stack) -> tuple:
    (source,) = functions(stack)[NOTIFIER].stream_sources
    return mapping_settings(source.properties).filters


@pytest.fixture
def gateway(stack, monkeypatch):
    with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, SESSION_KEY) as fake:
        monkeypatch.setenv("TOP_GATEWAY_URL", fake.url)
        monkeypatch.setenv("TOP_READ_TIMEOUT_SECONDS", "0.5")
        monkeypatch.setenv("CHUNK_SIZE", "4")
        monkeypatch.setenv("STREAM_MAX_RETRIES", "2")
        runtime.reset()
        yield fake


class OrdersStream:
    """The orders table's stream as Lambda hands it to the notifier: the records its filter
    lets through, each once, in order (``new()``), or again (a duplicate delivery)."""

    def __init__(self, stack) -> None:
        self._dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        self._table = stack.physical["OrdersTable"]
        self._seen = 0
        self._filters = _filters(stack)
        self.handler = functions(stack)[NOTIFIER].load_handler()

    def all(self) -> list[dict]:
        streams = streams_client(boto3.Session(region_name="us-east-1"))
        arn = self._dynamodb.describe_table(TableName=self._table)["Table"]["LatestStreamArn"]
        records = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            answer = streams.get_records(ShardIterator=iterator)
            records += [lambda_record(raw, arn).event for raw in answer["Records"]]
        return [record for record in records if passes(self._filters, record)]

    def new(self) -> list[dict]:
        records = self.all()
        fresh, self._seen = records[self._seen :], len(records)
        return fresh

    def invoke(self, records: list[dict]) -> list[str]:
        """The handler, as Lambda calls it; the ids of the records that failed."""
        answer = self.handler({"Records": records}, LambdaContext(function_name=NOTIFIER))
        return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]

    def deliver_new(self) -> list[str]:
        return self.invoke(self.new())


@pytest.fixture
def orders_stream(stack, gateway):
    return OrdersStream(stack)


def receive_and_generate(invoke, templates=(("T1", 4, "100"),)):
    call = sign_demo_call(sample_order(ORDER.card_order_id, templates=list(templates)))
    invoke(spi_event(call))
    generator = runtime.card_generator()
    for chunk in generator.plan(ORDER).chunks:
        generator.generate(chunk)


def lifecycle() -> DynamoDBLifecycleRepository:
    return DynamoDBLifecycleRepository(runtime.notifier_settings().orders_table_name)


def made(invoke) -> None:
    receive_and_generate(invoke)
    assert lifecycle().mark_made(ORDER, "operator-alice", utc_now()).changed


def notices(invoke) -> dict:
    return json.loads(invoke(order_event(ORDER.card_order_id))["body"])["notifications"]


@pytest.mark.parametrize("simplify", ["false", "true"])
def test_make_finish_is_sent_once_when_the_order_is_made(
    invoke, gateway, orders_stream, monkeypatch, capsys, simplify
):
    monkeypatch.setenv("TOP_SIMPLIFY", simplify)
    runtime.reset()
    made(invoke)

    # When the MADE record reaches the notifier
    assert orders_stream.deliver_new() == []

    # Then make.finish went out once, signed, for the order, without a session
    (call,) = gateway.calls_of(MAKE_FINISH)
    assert call.sign_valid
    assert call.params["card_order_id"] == "16002"
    assert "session" not in call.params
    assert call.accepted == ("16002",)
    assert ("alibaba_fundplatform_cardorders_status_make_finish_response" in call.answer) == (
        simplify == "false"
    )
    shown = notices(invoke)["make_finish"]
    assert (shown["state"], shown["attempts"]) == ("SENT", 1)
    assert shown["sent_at"]
    assert emitted_metrics(capsys.readouterr().out)["PlatformNotified"] == 1
    # And its own records (the attempt, SENT), and every record again, send nothing more
    assert orders_stream.deliver_new() == []
    assert orders_stream.invoke(orders_stream.all()) == []
    assert len(gateway.calls) == 1


def test_status_sended_carries_the_waybill_once_when_shipped(invoke, gateway, orders_stream):
    made(invoke)
    assert orders_stream.deliver_new() == []
    assert lifecycle().ship(ORDER, WAYBILL, utc_now()).changed

    assert orders_stream.deliver_new() == []
    assert orders_stream.invoke(orders_stream.all()) == []  # a duplicate of every record

    (call,) = gateway.calls_of(STATUS_SENDED)
    assert call.sign_valid
    assert {name: call.params[name] for name in WAYBILL_FIELDS} == {
        "card_order_id": "16002",
        "logistics_company": "顺丰速运",
        "logistics_order_id": "SF1234567890",
    }
    assert [c.method for c in gateway.calls] == [MAKE_FINISH, STATUS_SENDED]
    assert notices(invoke)["status_sended"]["state"] == "SENT"


WAYBILL_FIELDS = ("card_order_id", "logistics_company", "logistics_order_id")


def test_shipped_before_make_finish_went_out_sends_both_in_order(invoke, gateway, orders_stream):
    made(invoke)
    assert lifecycle().ship(ORDER, WAYBILL, utc_now()).changed
    records = orders_stream.new()
    shipped = [r for r in records if r["dynamodb"]["NewImage"]["status"]["S"] == "SHIPPED"]

    # Only the SHIPPED record arrives (the MADE one was lost in a redrive, say)
    assert orders_stream.invoke(shipped) == []
    assert [call.method for call in gateway.calls] == [MAKE_FINISH, STATUS_SENDED]
    # The MADE record, late, finds make.finish SENT
    assert orders_stream.invoke(records) == []
    assert len(gateway.calls) == 2
    assert {name: n["state"] for name, n in notices(invoke).items()} == {
        "make_finish": "SENT",
        "status_sended": "SENT",
    }


def test_a_platform_error_is_retried_by_the_stream_until_it_goes_through(
    invoke, gateway, orders_stream
):
    made(invoke)
    # More trouble than the client's own retries (4) get past, on the first attempt only
    gateway.fail_next(Fault.error(15, "isp.remote-service-error"), method=MAKE_FINISH, times=4)
    records = orders_stream.new()
    assert len(orders_stream.invoke(records)) == 1
    shown = notices(invoke)["make_finish"]
    assert (shown["state"], shown["attempts"]) == ("PENDING", 1)

    # The stream retries the record: it goes through, once
    assert orders_stream.invoke(records) == []
    shown = notices(invoke)["make_finish"]
    assert (shown["state"], shown["attempts"]) == ("SENT", 2)
    assert [call.accepted for call in gateway.calls_of(MAKE_FINISH)][-1] == ("16002",)
    assert sum(len(call.accepted) for call in gateway.calls) == 1


def test_the_last_attempt_records_failed_with_the_code(invoke, gateway, orders_stream, capsys):
    made(invoke)
    gateway.fail_always(
        Fault.error(15, "isp.remote-service-error", sub_msg="quoting", echo="card_order_id"),
        method=MAKE_FINISH,
    )
    records = orders_stream.new()
    for attempt in (1, 2):  # STREAM_MAX_RETRIES 2: three attempts
        assert len(orders_stream.invoke(records)) == 1
        assert notices(invoke)["make_finish"]["state"] == "PENDING", attempt
    # The last one records FAILED and still fails the record: it goes to NotifierFailures
    assert len(orders_stream.invoke(records)) == 1
    shown = notices(invoke)["make_finish"]
    assert (shown["state"], shown["attempts"], shown["code"]) == (
        "FAILED",
        3,
        "isp.remote-service-error",
    )
    assert "gave up after 3 attempts" in shown["message"]
    assert "quoting" not in json.dumps(shown)  # our words, never the platform's
    assert emitted_metrics(capsys.readouterr().out)["PlatformNoticeFailed"] == 1
    # A record after that sends nothing: FAILED waits for an operator's redrive
    calls = len(gateway.calls)
    assert orders_stream.invoke(records) == []
    assert len(gateway.calls) == calls


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (
            Fault.error(15, "isv.invalid-parameter", msg="Remote service error"),
            "isv.invalid-parameter",
        ),
        (Fault.error(41, msg="Invalid arguments"), "41"),
        (Fault.notice_result(success=False), "not-successful"),
    ],
)
def test_a_refusal_records_failed_at_once(invoke, gateway, orders_stream, fault, code):
    made(invoke)
    gateway.fail_next(fault, method=MAKE_FINISH)
    records = orders_stream.new()
    assert len(orders_stream.invoke(records)) == 1  # to the failure queue, for an operator
    (call,) = gateway.calls
    assert call.accepted == ()
    shown = notices(invoke)["make_finish"]
    assert (shown["state"], shown["attempts"], shown["code"]) == ("FAILED", 1, code)
    # Not made again: the stream's retries of the record fail again without a call, so that
    # it lands in the failure queue; the notifier's own records after it pass quietly
    assert len(orders_stream.invoke(records)) == 1
    assert orders_stream.deliver_new() == []
    assert len(gateway.calls) == 1


def test_a_failed_make_finish_holds_status_sended_back_until_the_redrive(
    invoke, gateway, orders_stream
):
    made(invoke)
    gateway.fail_next(Fault.error(15, "isv.invalid-parameter"), method=MAKE_FINISH)
    assert len(orders_stream.deliver_new()) == 1
    assert lifecycle().ship(ORDER, WAYBILL, utc_now()).changed

    # The SHIPPED record: status.sended waits behind the FAILED make.finish, and the record
    # fails too (to the queue: nothing is left PENDING without a record an operator sees)
    assert len(orders_stream.deliver_new()) == 1
    assert [call.method for call in gateway.calls] == [MAKE_FINISH]
    assert notices(invoke)["status_sended"]["state"] == "PENDING"

    # The operator's redrive reopens make.finish and replays: both go, in order, once each
    assert reopen_notices(lifecycle(), ORDER) == [PlatformNotice.MAKE_FINISH]
    assert reopen_notices(lifecycle(), ORDER) == []  # only FAILED ones
    assert orders_stream.invoke(orders_stream.all()) == []
    assert [call.method for call in gateway.calls] == [MAKE_FINISH, MAKE_FINISH, STATUS_SENDED]
    assert [len(call.accepted) for call in gateway.calls] == [0, 1, 1]
    assert {name: n["state"] for name, n in notices(invoke).items()} == {
        "make_finish": "SENT",
        "status_sended": "SENT",
    }


def test_a_crash_after_the_platform_answered_repeats_the_same_call(
    invoke, gateway, orders_stream, monkeypatch
):
    made(invoke)
    real = DynamoDBLifecycleRepository.record_notice
    crashed = []

    def crash_once(self, *args, **kwargs):
        if not crashed:
            crashed.append(True)
            raise RuntimeError("the function died before recording SENT")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBLifecycleRepository, "record_notice", crash_once)
    records = orders_stream.new()
    assert len(orders_stream.invoke(records)) == 1
    assert notices(invoke)["make_finish"]["state"] == "PENDING"  # nothing skips the retry
    assert orders_stream.invoke(records) == []

    first, second = gateway.calls_of(MAKE_FINISH)
    assert first.params["card_order_id"] == second.params["card_order_id"] == "16002"
    # The platform took it once: the retry is recognised as a repeat
    assert (first.accepted, second.repeated) == (("16002",), ("16002",))
    assert second.accepted == ()
    assert notices(invoke)["make_finish"]["state"] == "SENT"


def test_an_attempt_whose_count_is_stale_stands_down(invoke, gateway, orders_stream):
    made(invoke)
    store = lifecycle()
    now = utc_now()
    # Two attempts read attempts=0; the first counts itself, the second's count is stale
    assert store.start_notice_attempt(ORDER, PlatformNotice.MAKE_FINISH, 0, now)
    assert not store.start_notice_attempt(ORDER, PlatformNotice.MAKE_FINISH, 0, now)
    # The notification stays PENDING: the next attempt (count 1) goes ahead and sends it
    assert orders_stream.deliver_new() == []
    assert len(gateway.calls_of(MAKE_FINISH)) == 1
    assert notices(invoke)["make_finish"]["attempts"] == 2


def _announce(number: str, *, is_test: bool) -> None:
    registry = DynamoDBTemplateRegistry(runtime.notifier_settings().orders_table_name)
    registry.announce(
        CardTemplateAnnouncement(
            template_no=number,
            card_name="测试卡",
            par_value="100",
            is_test=is_test,
            own_sign="daily",
        ),
        utc_now(),
    )


def test_an_order_of_test_templates_becomes_made_and_is_notified(invoke, gateway, orders_stream):
    _announce("TT1", is_test=True)
    _announce("TT2", is_test=True)
    receive_and_generate(invoke, [("TT1", 2, "100"), ("TT2", 1, "100")])

    assert orders_stream.deliver_new() == []  # GENERATED: all test templates -> MADE
    shown = json.loads(invoke(order_event(ORDER.card_order_id))["body"])
    assert shown["status"] == "MADE"
    assert shown["lifecycle"]["made_by"] == "test-template"
    assert gateway.calls == []
    assert orders_stream.deliver_new() == []  # the MADE record: make.finish
    assert [call.method for call in gateway.calls] == [MAKE_FINISH]
    assert orders_stream.invoke(orders_stream.all()) == []
    assert len(gateway.calls) == 1


@pytest.mark.parametrize("other", ["real", "unregistered"])
def test_an_order_with_a_real_template_waits_for_an_operator(invoke, gateway, orders_stream, other):
    _announce("TT1", is_test=True)
    if other == "real":
        _announce("R1", is_test=False)
    receive_and_generate(invoke, [("TT1", 2, "100"), ("R1", 1, "100")])
    assert orders_stream.deliver_new() == []
    assert json.loads(invoke(order_event(ORDER.card_order_id))["body"])["status"] == "GENERATED"
    assert gateway.calls == []


def test_a_configured_session_is_sent_and_no_secret_reaches_the_logs(
    invoke, gateway, orders_stream, monkeypatch, captured_logs, capsys
):
    monkeypatch.setenv("NOTIFY_WITH_SESSION", "true")
    runtime.reset()
    made(invoke)
    gateway.fail_next(Fault.error(15, "isp.remote-service-error", msg="x", echo="session"))
    assert orders_stream.deliver_new() == []
    _failed, sent = gateway.calls_of(MAKE_FINISH)
    assert sent.params["session"] == SESSION_KEY
    assert sent.sign_valid
    printed = captured_logs.getvalue() + capsys.readouterr().out
    assert "platform notified" in printed
    for secret in (SESSION_KEY, DEMO_SECRET, sent.params["sign"]):
        assert secret not in printed


@pytest.mark.parametrize(
    ("method", "params", "code", "sub_code"),
    [
        (MAKE_FINISH, {}, 40, "isv.missing-parameter:card_order_id"),
        (MAKE_FINISH, {"card_order_id": "16x"}, 41, "isv.invalid-parameter:card_order_id"),
        (MAKE_FINISH, {"card_order_id": "0"}, 41, "isv.invalid-parameter:card_order_id"),
        (
            STATUS_SENDED,
            {"card_order_id": "16002", "logistics_order_id": "SF1"},
            40,
            "isv.missing-parameter:logistics_company",
        ),
        (
            STATUS_SENDED,
            {"card_order_id": "16002", "logistics_order_id": " ", "logistics_company": "顺丰"},
            40,
            "isv.missing-parameter:logistics_order_id",
        ),
    ],
)
def test_the_fake_gateway_checks_the_notices_like_the_platform(
    gateway, method, params, code, sub_code
):
    client = TopClient(gateway.url, DEMO_APP_KEY, FixedCredentials(DEMO_SECRET))
    with client, pytest.raises(TopError) as refused:
        client.call(method, params)
    assert (refused.value.top_code, refused.value.sub_code) == (code, sub_code)
    (call,) = gateway.calls
    assert call.accepted == ()


def test_the_fake_gateway_checks_the_notices_sign_and_a_session_sent(gateway):
    client = TopClient(gateway.url, DEMO_APP_KEY, FixedCredentials("not-the-secret"))
    with client, pytest.raises(TopError) as refused:
        client.call(MAKE_FINISH, {"card_order_id": "16002"})
    assert refused.value.top_code == 25
    wrong_session = FixedCredentials(DEMO_SECRET, "not-the-session")
    client = TopClient(gateway.url, DEMO_APP_KEY, wrong_session)
    with client, pytest.raises(TopError) as refused:
        client.call(MAKE_FINISH, {"card_order_id": "16002"}, with_session=True)
    assert refused.value.top_code == 27
    assert [call.accepted for call in gateway.calls] == [(), ()]


# --- a stream batch at a time -----------------------------------------------------------------

BATCH_ORDERS = (OrderKey("daily", 16101), OrderKey("daily", 16102), OrderKey("daily", 16103))


def made_orders(invoke, keys=BATCH_ORDERS) -> None:
    """Orders received, generated and made by an operator, one after another."""
    generator = runtime.card_generator()
    for key in keys:
        call = sign_demo_call(sample_order(key.card_order_id, templates=[("T1", 2, "100")]))
        invoke(spi_event(call))
        for chunk in generator.plan(key).chunks:
            generator.generate(chunk)
        assert lifecycle().mark_made(key, "operator-alice", utc_now()).changed


def made_records(records: list[dict]) -> list[dict]:
    return [r for r in records if r["dynamodb"]["NewImage"]["status"]["S"] == "MADE"]


@pytest.fixture
def dynamodb_calls():
    """The DynamoDB operations the notifier's own (moto) client sends, by name."""
    calls: list[str] = []

    def count(model, **_kwargs) -> None:
        calls.append(model.name)

    client = dynamodb_client()
    client.meta.events.register("before-call.dynamodb", count)
    yield calls
    client.meta.events.unregister("before-call.dynamodb", count)


def test_a_batch_of_orders_is_notified_with_one_read_and_no_read_per_order(
    invoke, gateway, orders_stream, dynamodb_calls, capsys
):
    made_orders(invoke)
    records = made_records(orders_stream.new())
    assert len(records) == 3
    dynamodb_calls.clear()

    assert orders_stream.invoke(records) == []

    # One consistent read of the three headers, no read per order; one conditional write
    # per notification before the call and one after (a wave, written side by side)
    assert dynamodb_calls.count("BatchGetItem") == 1
    assert "GetItem" not in dynamodb_calls
    assert dynamodb_calls.count("UpdateItem") == 2 * 3
    assert sorted(call.params["card_order_id"] for call in gateway.calls_of(MAKE_FINISH)) == [
        "16101",
        "16102",
        "16103",
    ]
    assert sum(len(call.accepted) for call in gateway.calls) == 3
    assert emitted_metrics(capsys.readouterr().out)["PlatformNotified"] == 3
    for key in BATCH_ORDERS:
        notice = lifecycle().lifecycle(key).notices[PlatformNotice.MAKE_FINISH]
        assert (notice.state.value, notice.attempts) == ("SENT", 1)


def test_a_rival_attempt_counted_between_the_read_and_the_count_stands_this_one_down(
    invoke, gateway, orders_stream, monkeypatch
):
    made_orders(invoke)
    records = made_records(orders_stream.new())
    rival = BATCH_ORDERS[1]
    read = DynamoDBLifecycleRepository.lifecycles

    def read_then_rival(self, keys):
        found = read(self, keys)
        # Another attempt (a redrive beside the stream) reads the same count and counts first
        assert self.start_notice_attempt(rival, PlatformNotice.MAKE_FINISH, 0, utc_now())
        return found

    monkeypatch.setattr(DynamoDBLifecycleRepository, "lifecycles", read_then_rival)
    assert orders_stream.invoke(records) == []
    monkeypatch.setattr(DynamoDBLifecycleRepository, "lifecycles", read)

    # The two others went out; the rival's order was not called by this batch
    called = [call.params["card_order_id"] for call in gateway.calls_of(MAKE_FINISH)]
    assert sorted(called) == ["16101", "16103"]
    standing = lifecycle().lifecycle(rival).notices[PlatformNotice.MAKE_FINISH]
    assert (standing.state.value, standing.attempts) == ("PENDING", 1)
    # The rival's own count record comes back on the stream: it is sent then, once
    assert orders_stream.deliver_new() == []
    assert sum(len(call.accepted) for call in gateway.calls) == 3
    assert lifecycle().lifecycle(rival).notices[PlatformNotice.MAKE_FINISH].state.value == "SENT"


def test_only_the_failing_records_of_a_batch_are_reported(invoke, gateway, orders_stream):
    made_orders(invoke)
    records = made_records(orders_stream.new())
    # The first order's make.finish is refused; the platform takes the others
    gateway.fail_next(Fault.error(15, "isv.invalid-parameter"), method=MAKE_FINISH)

    failed = orders_stream.invoke(records)

    assert failed == [records[0]["dynamodb"]["SequenceNumber"]]
    states = [
        lifecycle().lifecycle(key).notices[PlatformNotice.MAKE_FINISH] for key in BATCH_ORDERS
    ]
    assert [(n.state.value, n.code) for n in states] == [
        ("FAILED", "isv.invalid-parameter"),
        ("SENT", None),
        ("SENT", None),
    ]
    # The stream hands the batch over again from the failing record: nothing more is sent,
    # and the refused record fails again (to the failure queue)
    assert orders_stream.invoke(records) == failed
    assert len(gateway.calls) == 3


def test_a_duplicate_record_in_the_same_batch_sends_nothing_more(
    invoke, gateway, orders_stream, capsys
):
    made_orders(invoke, BATCH_ORDERS[:2])
    records = made_records(orders_stream.new())
    copy = json.loads(json.dumps(records[0]))
    copy["eventID"] = "another-delivery"

    assert orders_stream.invoke([records[0], records[1], records[0], copy]) == []

    assert sorted(call.params["card_order_id"] for call in gateway.calls) == ["16101", "16102"]
    assert sum(len(call.accepted) for call in gateway.calls) == 2
    assert emitted_metrics(capsys.readouterr().out)["PlatformNotified"] == 2
