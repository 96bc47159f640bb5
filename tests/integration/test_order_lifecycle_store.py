"""The lifecycle steps after GENERATED and the template registry, against moto.

Each step is one conditional write: a repeat answers as the first time, a step from the wrong
state or with other data is refused with nothing written, and the notification a step owes the
platform is written with it (the outbox).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cardmaker import (
    CardOrderMakeRequest,
    CardTemplateAnnouncement,
    DynamoDBGenerationRepository,
    DynamoDBLifecycleRepository,
    DynamoDBOrderRepository,
    DynamoDBTemplateRegistry,
    Notice,
    NoticeState,
    Order,
    OrderKey,
    OrderNotFound,
    OrderStateConflict,
    OrderStatus,
    PlatformNotice,
    Waybill,
    needs_no_physical_cards,
    platform_progress,
)
from cardmaker_cli.samples import sample_order

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
KEY = OrderKey("daily", 16002)
WAYBILL = Waybill("顺丰速运", "SF1234567890")


@pytest.fixture
def lifecycle(dynamodb, orders_table):
    return DynamoDBLifecycleRepository(orders_table, dynamodb)


@pytest.fixture
def registry(dynamodb, orders_table):
    return DynamoDBTemplateRegistry(orders_table, dynamodb, sleep=lambda _: None)


def store_order(dynamodb, orders_table, status=OrderStatus.GENERATED, key=KEY):
    """An order of two templates, moved to ``status`` the way the generator moves it."""
    request = CardOrderMakeRequest.model_validate(
        sample_order(key.card_order_id, key.own_sign, [("3010030E02", 2, "100"), ("T9", 1, "500")])
    )
    order = Order.receive(request, NOW)
    DynamoDBOrderRepository(orders_table, dynamodb).insert(order)
    generation = DynamoDBGenerationRepository(orders_table, dynamodb)
    if status is OrderStatus.RECEIVED:
        return order
    generation.start(order, 0, 10, 0)
    if status is OrderStatus.GENERATED:
        assert generation.finish(key)
    return order


def header(dynamodb, orders_table, key=KEY):
    return dynamodb.get_item(
        TableName=orders_table,
        Key={"pk": {"S": f"ORDER#{key.own_sign}#{key.card_order_id}"}, "sk": {"S": "ORDER"}},
    )["Item"]


def test_made_moves_a_generated_order_and_owes_make_finish(dynamodb, orders_table, lifecycle):
    # Given a GENERATED order
    store_order(dynamodb, orders_table)
    # When it is marked made
    step = lifecycle.mark_made(KEY, "arn:aws:iam::1:user/ops", NOW)
    # Then it is MADE, by whom and when, and make.finish waits to be sent
    assert (step.status, step.changed) == (OrderStatus.MADE, True)
    stored = lifecycle.get(KEY)
    assert stored.order.status is OrderStatus.MADE
    assert stored.lifecycle.made_at == NOW
    assert stored.lifecycle.made_by == "arn:aws:iam::1:user/ops"
    assert stored.lifecycle.notices == {
        PlatformNotice.MAKE_FINISH: Notice(NoticeState.PENDING, updated_at=NOW)
    }
    assert stored.lifecycle.generated_at is not None


def test_made_again_is_a_repeat_that_writes_nothing(dynamodb, orders_table, lifecycle):
    store_order(dynamodb, orders_table)
    lifecycle.mark_made(KEY, "ops", NOW)
    before = header(dynamodb, orders_table)
    step = lifecycle.mark_made(KEY, "someone else", NOW + timedelta(hours=1))
    assert (step.status, step.changed) == (OrderStatus.MADE, False)
    assert header(dynamodb, orders_table) == before


@pytest.mark.parametrize("status", [OrderStatus.RECEIVED, OrderStatus.GENERATING])
def test_an_order_without_all_its_cards_cannot_be_made(dynamodb, orders_table, lifecycle, status):
    store_order(dynamodb, orders_table, status)
    before = header(dynamodb, orders_table)
    with pytest.raises(OrderStateConflict) as refused:
        lifecycle.mark_made(KEY, "ops", NOW)
    assert refused.value.status == status.value
    assert header(dynamodb, orders_table) == before


def test_no_step_on_an_order_that_does_not_exist(lifecycle):
    with pytest.raises(OrderNotFound):
        lifecycle.mark_made(KEY, "ops", NOW)
    with pytest.raises(OrderNotFound):
        lifecycle.ship(KEY, WAYBILL, NOW)
    with pytest.raises(OrderNotFound):
        lifecycle.confirm(KEY, NOW)


def test_shipping_records_the_waybill_and_owes_status_sended(dynamodb, orders_table, lifecycle):
    store_order(dynamodb, orders_table)
    lifecycle.mark_made(KEY, "ops", NOW)
    later = NOW + timedelta(days=1)
    step = lifecycle.ship(KEY, WAYBILL, later)
    assert (step.status, step.changed) == (OrderStatus.SHIPPED, True)
    stored = lifecycle.get(KEY)
    assert stored.lifecycle.waybill == WAYBILL
    assert stored.lifecycle.shipped_at == later
    assert stored.lifecycle.notices[PlatformNotice.STATUS_SENDED] == Notice(
        NoticeState.PENDING, updated_at=later
    )
    # make.finish keeps its own state
    assert stored.lifecycle.notices[PlatformNotice.MAKE_FINISH].state is NoticeState.PENDING


def test_the_same_waybill_again_is_a_repeat_another_is_a_conflict(
    dynamodb, orders_table, lifecycle
):
    store_order(dynamodb, orders_table)
    lifecycle.mark_made(KEY, "ops", NOW)
    lifecycle.ship(KEY, WAYBILL, NOW)
    before = header(dynamodb, orders_table)
    assert lifecycle.ship(KEY, WAYBILL, NOW + timedelta(hours=2)).changed is False
    with pytest.raises(OrderStateConflict, match="another waybill"):
        lifecycle.ship(KEY, Waybill("顺丰速运", "SF999"), NOW)
    assert header(dynamodb, orders_table) == before


def test_only_a_made_order_can_be_shipped(dynamodb, orders_table, lifecycle):
    store_order(dynamodb, orders_table)
    before = header(dynamodb, orders_table)
    with pytest.raises(OrderStateConflict, match="only a MADE order") as refused:
        lifecycle.ship(KEY, WAYBILL, NOW)
    assert refused.value.status == "GENERATED"
    assert header(dynamodb, orders_table) == before


def test_receipt_confirms_a_made_or_shipped_order_once(dynamodb, orders_table, lifecycle):
    store_order(dynamodb, orders_table)
    with pytest.raises(OrderStateConflict):
        lifecycle.confirm(KEY, NOW)
    lifecycle.mark_made(KEY, "ops", NOW)
    lifecycle.ship(KEY, WAYBILL, NOW)
    assert lifecycle.confirm(KEY, NOW).changed is True
    assert lifecycle.confirm(KEY, NOW + timedelta(hours=1)).changed is False
    stored = lifecycle.get(KEY)
    assert stored.order.status is OrderStatus.CONFIRMED
    assert stored.lifecycle.confirmed_at == NOW
    # a confirmed order has its cards: it can still be delivered and printed
    assert stored.order.status.has_cards


def test_a_notice_moves_only_from_the_state_expected(dynamodb, orders_table, lifecycle):
    store_order(dynamodb, orders_table)
    lifecycle.mark_made(KEY, "ops", NOW)
    sent = Notice(NoticeState.SENT, attempts=1, updated_at=NOW, sent_at=NOW)
    notice = PlatformNotice.MAKE_FINISH
    assert lifecycle.record_notice(KEY, notice, sent, expected={NoticeState.PENDING})
    # a duplicate stream record finds it SENT: nothing more is written
    again = Notice(NoticeState.SENT, attempts=2, updated_at=NOW, sent_at=NOW)
    assert not lifecycle.record_notice(KEY, notice, again, expected={NoticeState.PENDING})
    assert lifecycle.get(KEY).lifecycle.notices[notice] == sent
    # an order that owes no status.sended yet has none to move
    assert not lifecycle.record_notice(
        KEY, PlatformNotice.STATUS_SENDED, sent, expected={NoticeState.PENDING}
    )


def test_status_query_reads_the_lifecycle_in_the_platforms_words(dynamodb, orders_table, lifecycle):
    assert platform_progress(lifecycle.get(KEY)).status == "REQUEST_NOT_EXIST"
    store_order(dynamodb, orders_table)
    assert platform_progress(lifecycle.get(KEY)).status == "REQUEST_RECEIVED"
    lifecycle.mark_made(KEY, "ops", NOW)
    assert platform_progress(lifecycle.get(KEY)).status == "WAITING_DELIVERY"
    lifecycle.ship(KEY, WAYBILL, NOW)
    progress = platform_progress(lifecycle.get(KEY))
    assert (progress.status, progress.waybill) == ("DELIVERED", WAYBILL)
    lifecycle.confirm(KEY, NOW)
    assert platform_progress(lifecycle.get(KEY)).status == "DELIVERED"


def announcement(**changes):
    fields = {
        "template_no": "3010030E02",
        "card_name": "猫超卡100元",
        "par_value": "10000",
        "is_test": "false",
        "own_sign": "daily",
        **changes,
    }
    return CardTemplateAnnouncement.model_validate(fields)


def test_announcing_registers_replays_and_keeps_the_history(registry):
    first = registry.announce(announcement(), NOW)
    assert (first.template.version, first.replayed) == (1, False)
    # the same content (a JSON boolean this time) is a replay
    replay = registry.announce(announcement(is_test=False), NOW + timedelta(hours=1))
    assert (replay.template.version, replay.replayed) == (1, True)
    assert replay.template.announced_at == NOW
    # other content is version 2; version 1 stays in the history
    changed = registry.announce(announcement(card_name="猫超卡一百元"), NOW + timedelta(days=1))
    assert (changed.template.version, changed.replayed) == (2, False)
    history = registry.history("daily", "3010030E02")
    assert [t.announcement.card_name for t in history] == ["猫超卡100元", "猫超卡一百元"]
    assert registry.get("daily", "3010030E02").version == 2
    # each environment has its own registry
    assert registry.get("online", "3010030E02") is None


def test_a_lost_race_takes_the_next_version(registry, dynamodb, orders_table):
    registry.announce(announcement(), NOW)
    rival = DynamoDBTemplateRegistry(orders_table, dynamodb, sleep=lambda _: None)
    original_get = registry.get
    raced = []

    def stale_get(own_sign, template_no):
        seen = original_get(own_sign, template_no)
        if not raced:  # the rival announces between our read and our write
            raced.append(rival.announce(announcement(card_name="rival"), NOW))
        return seen

    registry.get = stale_get
    ours = registry.announce(announcement(card_name="ours"), NOW)
    assert ours.template.version == 3
    names = [t.announcement.card_name for t in registry.history("daily", "3010030E02")]
    assert names == ["猫超卡100元", "rival", "ours"]


def test_test_templates_only_need_no_physical_cards(registry, dynamodb, orders_table):
    order = store_order(dynamodb, orders_table)
    numbers = [t.template_no for t in order.templates]
    assert not needs_no_physical_cards(order, registry.get_many("daily", numbers))
    registry.announce(announcement(is_test=True), NOW)
    # one template is still unregistered: it counts as a real one
    assert not needs_no_physical_cards(order, registry.get_many("daily", numbers))
    registry.announce(announcement(template_no="T9", is_test="true"), NOW)
    registered = registry.get_many("daily", numbers)
    assert set(registered) == {"3010030E02", "T9"}
    assert needs_no_physical_cards(order, registered)


@pytest.mark.parametrize("value", ["1", "yes", "True", 1, None])
def test_is_test_is_a_true_boolean(value):
    with pytest.raises(ValueError, match="true or false"):
        announcement(is_test=value)
