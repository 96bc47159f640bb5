"""Cardmaker's shared layer: the card maker's domain, its storage and the TOP protocol.

This is the layer's public surface: the functions, the operator CLI, the local stack, chaos and
the tests import from here (``cardmaker.top`` for protocol work, ``cardmaker.store`` for tools
that inspect the tables' raw items). Everything else is the layer's own business and may move.

What is here: the use cases (receive and read an order, plan and generate its cards, create,
carry out and read a delivery, reopen what failed, open card secrets) with the wiring that
builds them per function (``runtime``); the requests and domain types they take and give; the
stream tasks the stream functions decode; the DynamoDB repositories they are built on; the HTTP
API's answer models and OpenAPI parts; every error, under ``CardmakerError``; the settings
models and the Powertools logger, metrics and tracer.
"""

from __future__ import annotations

from cardmaker import runtime
from cardmaker.api_models import (
    API_DESCRIPTION,
    API_SERVERS,
    API_TAGS,
    IAM,
    SECURITY_SCHEMES,
    NotFoundAnswer,
    ProblemAnswer,
    answer_body,
    json_content,
)
from cardmaker.cards.card import Card, CardBatch
from cardmaker.cards.keys import KmsDataKeys, chunk_key_context
from cardmaker.cards.opening import SecretOpener
from cardmaker.cards.print_run import PRINT_CLAIM, PrintedCard, PrintRun, PrintRuns
from cardmaker.cards.sealing import Sealer
from cardmaker.deliveries.api_models import (
    EXAMPLE_BIND,
    EXAMPLE_DELIVERY_ID,
    EXAMPLE_ETICKET,
    DeliveryAccepted,
    DeliveryView,
)
from cardmaker.deliveries.delivery import (
    FINAL,
    CardOutcome,
    CardResult,
    Delivery,
    DeliveryStatus,
    Requester,
    delivery_id,
    request_fingerprint,
)
from cardmaker.deliveries.models import (
    BindDeliveryRequest,
    DeliveryId,
    DeliveryRequest,
    EticketDeliveryRequest,
)
from cardmaker.deliveries.sending import DeliveryAttempt, DeliverySender
from cardmaker.deliveries.service import DeliveryReopened, DeliveryService, reopen_delivery
from cardmaker.errors import (
    CardmakerError,
    CardMissing,
    ClaimContended,
    DeliveryConflict,
    DeliveryExists,
    DeliveryNotFound,
    DeliveryRefused,
    EventNotPublished,
    InvalidAppKey,
    InvalidMethod,
    InvalidParameter,
    InvalidSignature,
    InvalidTimestamp,
    NotFound,
    NotificationDeferred,
    NumberingKeyChanged,
    OrderConflict,
    OrderExists,
    OrderNotFound,
    OrderStateConflict,
    PageTokenInvalid,
    PlatformNoticeFailed,
    PrintRefused,
    RequesterUnknown,
    SecretTampered,
    SequenceExhausted,
    SpiRefused,
    TopConfigError,
    TopError,
    TopOutcomeUnknown,
    TopUnavailable,
    UnprocessedItemsError,
)
from cardmaker.events.bus import EventBridgeBus
from cardmaker.events.envelope import (
    EVENT_DETAIL_TYPES,
    EVENT_SOURCE,
    DeliveryFinished,
    LifecycleEvent,
    OrderStatusChanged,
    lifecycle_event,
)
from cardmaker.generation.plan import Chunk, plan_chunks
from cardmaker.generation.service import CardGenerator, ChunkResult, PlanResult
from cardmaker.observability import about, logger, metrics, tracer
from cardmaker.orders.api_models import (
    EXAMPLE_ORDER_ID,
    EXAMPLE_OWN_SIGN,
    OrderList,
    OrderStateConflictAnswer,
    OrderStepAccepted,
    OrderView,
    cardorder_make_body_schemas,
)
from cardmaker.orders.lifecycle import (
    MADE_BY_TEST_TEMPLATES,
    OrderLifecycle,
    PlatformProgress,
    needs_no_physical_cards,
    platform_progress,
)
from cardmaker.orders.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_TOKEN_LENGTH,
    ListedOrders,
    ListPosition,
    OrderListing,
    OrderPage,
    OrderSummary,
)
from cardmaker.orders.models import (
    MAX_ORDER_ID,
    CardOrderMakeRequest,
    CardProductInfo,
    LogisticsInfo,
    OwnSign,
    ShipmentRequest,
    Waybill,
)
from cardmaker.orders.notifying import Notified, PlatformNotifier, reopen_notices
from cardmaker.orders.order import (
    Lifecycle,
    Notice,
    NoticeState,
    Order,
    OrderKey,
    OrderStatus,
    PlatformNotice,
    StoredOrder,
)
from cardmaker.orders.service import Acceptance, OrderReopened, OrderService, reopen_order
from cardmaker.orders.spi_call import (
    CARDORDER_MAKE,
    CARDORDER_MAKE_PARAMETERS,
    parse_cardorder_make,
)
from cardmaker.orders.templates import Announced, CardTemplate, CardTemplateAnnouncement
from cardmaker.settings import FUNCTION_SETTINGS
from cardmaker.store.cards import DynamoDBCardRepository
from cardmaker.store.clients import dynamodb_client, kms_client
from cardmaker.store.deliveries import DynamoDBDeliveryRepository
from cardmaker.store.lifecycle import DynamoDBLifecycleRepository, Transition
from cardmaker.store.order_list import DynamoDBOrderIndex
from cardmaker.store.orders import DynamoDBGenerationRepository, DynamoDBOrderRepository
from cardmaker.store.stream import (
    GenerateChunk,
    MakeTestOrder,
    NotifyPlatform,
    PlanOrder,
    SendDelivery,
    WakeDeliveries,
    delivery_task,
    generation_task,
    lifecycle_change,
    notification_task,
)
from cardmaker.store.templates import DynamoDBTemplateRegistry

__all__ = [
    "API_DESCRIPTION",
    "API_SERVERS",
    "API_TAGS",
    "CARDORDER_MAKE",
    "CARDORDER_MAKE_PARAMETERS",
    "DEFAULT_PAGE_SIZE",
    "EVENT_DETAIL_TYPES",
    "EVENT_SOURCE",
    "EXAMPLE_BIND",
    "EXAMPLE_DELIVERY_ID",
    "EXAMPLE_ETICKET",
    "EXAMPLE_ORDER_ID",
    "EXAMPLE_OWN_SIGN",
    "FINAL",
    "FUNCTION_SETTINGS",
    "IAM",
    "MADE_BY_TEST_TEMPLATES",
    "MAX_ORDER_ID",
    "MAX_PAGE_SIZE",
    "MAX_TOKEN_LENGTH",
    "PRINT_CLAIM",
    "SECURITY_SCHEMES",
    "Acceptance",
    "Announced",
    "BindDeliveryRequest",
    "Card",
    "CardBatch",
    "CardGenerator",
    "CardMissing",
    "CardOrderMakeRequest",
    "CardOutcome",
    "CardProductInfo",
    "CardResult",
    "CardTemplate",
    "CardTemplateAnnouncement",
    "CardmakerError",
    "Chunk",
    "ChunkResult",
    "ClaimContended",
    "Delivery",
    "DeliveryAccepted",
    "DeliveryAttempt",
    "DeliveryConflict",
    "DeliveryExists",
    "DeliveryFinished",
    "DeliveryId",
    "DeliveryNotFound",
    "DeliveryRefused",
    "DeliveryReopened",
    "DeliveryRequest",
    "DeliverySender",
    "DeliveryService",
    "DeliveryStatus",
    "DeliveryView",
    "DynamoDBCardRepository",
    "DynamoDBDeliveryRepository",
    "DynamoDBGenerationRepository",
    "DynamoDBLifecycleRepository",
    "DynamoDBOrderIndex",
    "DynamoDBOrderRepository",
    "DynamoDBTemplateRegistry",
    "EticketDeliveryRequest",
    "EventBridgeBus",
    "EventNotPublished",
    "GenerateChunk",
    "InvalidAppKey",
    "InvalidMethod",
    "InvalidParameter",
    "InvalidSignature",
    "InvalidTimestamp",
    "KmsDataKeys",
    "Lifecycle",
    "LifecycleEvent",
    "ListPosition",
    "ListedOrders",
    "LogisticsInfo",
    "MakeTestOrder",
    "NotFound",
    "NotFoundAnswer",
    "Notice",
    "NoticeState",
    "NotificationDeferred",
    "Notified",
    "NotifyPlatform",
    "NumberingKeyChanged",
    "Order",
    "OrderConflict",
    "OrderExists",
    "OrderKey",
    "OrderLifecycle",
    "OrderList",
    "OrderListing",
    "OrderNotFound",
    "OrderPage",
    "OrderReopened",
    "OrderService",
    "OrderStateConflict",
    "OrderStateConflictAnswer",
    "OrderStatus",
    "OrderStatusChanged",
    "OrderStepAccepted",
    "OrderSummary",
    "OrderView",
    "OwnSign",
    "PageTokenInvalid",
    "PlanOrder",
    "PlanResult",
    "PlatformNotice",
    "PlatformNoticeFailed",
    "PlatformNotifier",
    "PlatformProgress",
    "PrintRefused",
    "PrintRun",
    "PrintRuns",
    "PrintedCard",
    "ProblemAnswer",
    "Requester",
    "RequesterUnknown",
    "Sealer",
    "SecretOpener",
    "SecretTampered",
    "SendDelivery",
    "SequenceExhausted",
    "ShipmentRequest",
    "SpiRefused",
    "StoredOrder",
    "TopConfigError",
    "TopError",
    "TopOutcomeUnknown",
    "TopUnavailable",
    "Transition",
    "UnprocessedItemsError",
    "WakeDeliveries",
    "Waybill",
    "about",
    "answer_body",
    "cardorder_make_body_schemas",
    "chunk_key_context",
    "delivery_id",
    "delivery_task",
    "dynamodb_client",
    "generation_task",
    "json_content",
    "kms_client",
    "lifecycle_change",
    "lifecycle_event",
    "logger",
    "metrics",
    "needs_no_physical_cards",
    "notification_task",
    "parse_cardorder_make",
    "plan_chunks",
    "platform_progress",
    "reopen_delivery",
    "reopen_notices",
    "reopen_order",
    "request_fingerprint",
    "runtime",
    "tracer",
]
