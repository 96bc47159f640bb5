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
    InvalidAppKey,
    InvalidMethod,
    InvalidParameter,
    InvalidSignature,
    InvalidTimestamp,
    NotFound,
    NumberingKeyChanged,
    OrderConflict,
    OrderExists,
    OrderNotFound,
    OrderStateConflict,
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
from cardmaker.generation.plan import Chunk, plan_chunks
from cardmaker.generation.service import CardGenerator, ChunkResult, PlanResult
from cardmaker.observability import about, logger, metrics, tracer
from cardmaker.orders.api_models import (
    EXAMPLE_ORDER_ID,
    EXAMPLE_OWN_SIGN,
    OrderView,
    spi_body_schemas,
)
from cardmaker.orders.lifecycle import (
    MADE_BY_TEST_TEMPLATES,
    OrderLifecycle,
    PlatformProgress,
    needs_no_physical_cards,
    platform_progress,
)
from cardmaker.orders.models import (
    MAX_ORDER_ID,
    CardOrderMakeRequest,
    CardOrderReference,
    CardProductInfo,
    LogisticsInfo,
    OwnSign,
    ReceiptNotice,
    ShipmentRequest,
    StatusQueryRequest,
    Waybill,
)
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
from cardmaker.orders.platform_calls import (
    CARD_TEMPLATE_NEW,
    CARDORDER_RECEIPT,
    CARDORDER_STATUS_QUERY,
    RECEIPT_PARAMETERS,
    STATUS_QUERY_PARAMETERS,
    TEMPLATE_NEW_PARAMETERS,
    answer_root,
    parse_receipt,
    parse_status_query,
    parse_template_new,
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
from cardmaker.store.orders import DynamoDBGenerationRepository, DynamoDBOrderRepository
from cardmaker.store.stream import (
    GenerateChunk,
    PlanOrder,
    SendDelivery,
    WakeDeliveries,
    delivery_task,
    generation_task,
)
from cardmaker.store.templates import DynamoDBTemplateRegistry

__all__ = [
    "API_DESCRIPTION",
    "API_SERVERS",
    "API_TAGS",
    "CARDORDER_MAKE",
    "CARDORDER_MAKE_PARAMETERS",
    "CARDORDER_RECEIPT",
    "CARDORDER_STATUS_QUERY",
    "CARD_TEMPLATE_NEW",
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
    "PRINT_CLAIM",
    "RECEIPT_PARAMETERS",
    "SECURITY_SCHEMES",
    "STATUS_QUERY_PARAMETERS",
    "TEMPLATE_NEW_PARAMETERS",
    "Acceptance",
    "Announced",
    "BindDeliveryRequest",
    "Card",
    "CardBatch",
    "CardGenerator",
    "CardMissing",
    "CardOrderMakeRequest",
    "CardOrderReference",
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
    "DynamoDBOrderRepository",
    "DynamoDBTemplateRegistry",
    "EticketDeliveryRequest",
    "GenerateChunk",
    "InvalidAppKey",
    "InvalidMethod",
    "InvalidParameter",
    "InvalidSignature",
    "InvalidTimestamp",
    "KmsDataKeys",
    "Lifecycle",
    "LogisticsInfo",
    "NotFound",
    "NotFoundAnswer",
    "Notice",
    "NoticeState",
    "NumberingKeyChanged",
    "Order",
    "OrderConflict",
    "OrderExists",
    "OrderKey",
    "OrderLifecycle",
    "OrderNotFound",
    "OrderReopened",
    "OrderService",
    "OrderStateConflict",
    "OrderStatus",
    "OrderView",
    "OwnSign",
    "PlanOrder",
    "PlanResult",
    "PlatformNotice",
    "PlatformProgress",
    "PrintRefused",
    "PrintRun",
    "PrintRuns",
    "PrintedCard",
    "ProblemAnswer",
    "ReceiptNotice",
    "Requester",
    "RequesterUnknown",
    "Sealer",
    "SecretOpener",
    "SecretTampered",
    "SendDelivery",
    "SequenceExhausted",
    "ShipmentRequest",
    "SpiRefused",
    "StatusQueryRequest",
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
    "answer_root",
    "chunk_key_context",
    "delivery_id",
    "delivery_task",
    "dynamodb_client",
    "generation_task",
    "json_content",
    "kms_client",
    "logger",
    "metrics",
    "needs_no_physical_cards",
    "parse_cardorder_make",
    "parse_receipt",
    "parse_status_query",
    "parse_template_new",
    "plan_chunks",
    "platform_progress",
    "reopen_delivery",
    "reopen_order",
    "request_fingerprint",
    "runtime",
    "spi_body_schemas",
    "tracer",
]
