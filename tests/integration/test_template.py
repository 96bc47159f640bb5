"""template.yaml: linted by cfn-lint and SAM, and checked for what this project promises."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cardmaker import (
    FUNCTION_SETTINGS,
    CardOrderMakeRequest,
    Order,
    OrderKey,
    chunk_key_context,
    plan_chunks,
)
from cardmaker.store import order_list, schema
from local.template import REPO, TEMPLATE_PATH, load_template, resources_of_type

TEMPLATE = load_template()
_ONE_ORDER = CardOrderMakeRequest.model_validate(
    {
        "card_order_id": 1,
        "own_sign": "daily",
        "card_product_infos": [
            {"template_no": "T1", "count": 3, "par_value": "100", "card_name": "card"}
        ],
    }
)


def test_cfn_lint_passes():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [cfn_lint, str(TEMPLATE_PATH)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes():
    sam = os.environ.get("SAM_CLI") or shutil.which("sam")
    assert sam, "the SAM CLI is missing: run the tests with `make test`, which installs it"
    result = subprocess.run(
        [sam, "validate", "--lint", "--region", "us-east-1", "--template-file", str(TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout


def test_functions_run_python_313_on_arm64_with_tracing():
    function = TEMPLATE["Globals"]["Function"]
    assert (function["Runtime"], function["Architectures"], function["Tracing"]) == (
        "python3.13",
        ["arm64"],
        "Active",
    )


def test_every_function_uses_the_shared_layer_and_has_its_code():
    assert TEMPLATE["Globals"]["Function"]["Layers"] == [{"Ref": "SharedLayer"}]
    for name, function in resources_of_type(TEMPLATE, "AWS::Serverless::Function").items():
        properties = function["Properties"]
        module, _, _ = properties["Handler"].rpartition(".")
        assert (REPO / properties["CodeUri"] / f"{module}.py").is_file(), name


def test_layer_is_built_by_sam_from_a_source_tree_without_python_folder():
    layer = TEMPLATE["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    source = REPO / layer["Properties"]["ContentUri"]
    assert (source / "requirements.txt").is_file()
    assert (source / "cardmaker" / "__init__.py").is_file()
    assert not (source / "python").exists()  # sam build would nest it as python/python


def test_orders_table_is_durable_and_streamed():
    properties = TEMPLATE["Resources"]["OrdersTable"]["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["SSESpecification"]["SSEEnabled"] is True


# The platform's two entry points, each protected by its own signature instead of IAM.
PUBLIC_ROUTES = {"/top/spi", "/eticket/notices"}


def test_only_the_platforms_routes_are_public():
    api = TEMPLATE["Resources"]["HttpApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    for function in resources_of_type(TEMPLATE, "AWS::Serverless::Function").values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            public = event["Properties"].get("Auth", {}).get("Authorizer") == "NONE"
            assert public == (event["Properties"]["Path"] in PUBLIC_ROUTES), event


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _statements():
    for name, function in resources_of_type(TEMPLATE, "AWS::Serverless::Function").items():
        for policy in function["Properties"].get("Policies", []):
            if isinstance(policy, dict) and "Statement" in policy:
                for statement in policy["Statement"]:
                    yield name, statement
    # The operators' managed policy is held to the same rules.
    for statement in TEMPLATE["Resources"]["OperatorPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]:
        yield "OperatorPolicy", statement


@pytest.mark.parametrize(("function", "statement"), list(_statements()))
def test_policies_are_least_privilege(function, statement):
    actions = (
        statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    )
    resources = (
        statement["Resource"]
        if isinstance(statement["Resource"], list)
        else [statement["Resource"]]
    )
    assert all("*" not in action for action in actions), (function, actions)
    assert all(resource != "*" for resource in resources), (function, resources)
    # every resource is one of the template's own, never a hand-written ARN
    assert all(isinstance(resource, dict) for resource in resources), (function, resources)


def test_spi_function_cannot_delete_or_scan_orders():
    actions = {
        action
        for name, statement in _statements()
        if name == "TopSpiFunction"
        for action in _as_list(statement["Action"])
    }
    assert {"dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:BatchGetItem"}.isdisjoint(actions)
    # Its one update is cardorder.receipt's conditional step to CONFIRMED (an order is never
    # rewritten by a put: PutItem is conditional on a new key); tests/reliability/
    # test_least_privilege.py checks that every action granted is one its code calls.
    assert "dynamodb:UpdateItem" in actions
    assert "secretsmanager:GetSecretValue" in actions


def _reached(function: str) -> set[str]:
    """The template resources a function's policy names."""
    return {
        json.dumps(resource, sort_keys=True)
        for name, statement in _statements()
        if name == function
        for resource in _as_list(statement["Resource"])
    }


def test_the_public_spi_function_reaches_only_the_orders_table_and_the_top_secret():
    # Given the function that anyone on the internet can call (its signature is its guard)
    # Then it reaches nothing of deliveries, cards or keys
    assert _reached("TopSpiFunction") == {
        json.dumps({"Fn::GetAtt": ["OrdersTable", "Arn"]}),
        json.dumps({"Ref": "TopSecret"}),
    }
    # and the operator API no TOP secret and no card data key (it cannot open a card's
    # secret): the cards table and the numbering key only to look a card up by its number,
    # release a print run, say why a delivery waits and count the stock (the cursors)
    assert _reached("OperatorApiFunction") == {
        json.dumps({"Fn::GetAtt": ["OrdersTable", "Arn"]}),
        json.dumps({"Fn::Sub": "${OrdersTable.Arn}/index/ByEnvironment"}),
        json.dumps({"Fn::GetAtt": ["DeliveriesTable", "Arn"]}),
        # products, and the notice deliveries a mapping wakes; the notices read
        json.dumps({"Fn::GetAtt": ["EticketTable", "Arn"]}),
        json.dumps({"Fn::Sub": "${DeliveriesTable.Arn}/index/WaitingStock"}),
        # the audit trail: appended to, read (all of it, or one order's)
        json.dumps({"Fn::GetAtt": ["AuditTable", "Arn"]}),
        json.dumps({"Fn::Sub": "${AuditTable.Arn}/index/ByOrder"}),
        # GET /cards/{card_no} and a print run's release
        json.dumps({"Fn::Sub": "${OrdersTable.Arn}/index/BySequence"}),
        json.dumps({"Fn::GetAtt": ["CardsTable", "Arn"]}),
        json.dumps({"Ref": "CardNumberSecret"}),
        json.dumps({"Fn::Sub": "${DeliveriesTable.Arn}/index/ByOrder"}),
        # an order's deliveries, newest first
        json.dumps({"Fn::Sub": "${DeliveriesTable.Arn}/index/ByOrderNewest"}),
        # the console's reads: the allocation cursors (CardCursorsRead: no card, no key) and
        # the on-failure queues' counts
        json.dumps({"Fn::GetAtt": ["CardsTable", "Arn"]}),
        *(
            json.dumps({"Fn::GetAtt": [queue, "Arn"]})
            for queue in (
                "GeneratorFailures",
                "DeliveryFailures",
                "EventsFailures",
                "NotifierFailures",
                "FulfilmentFailures",
            )
        ),
    }
    # and the public notice function only the e-voucher table and the TOP secret
    assert _reached("EticketNoticeFunction") == {
        json.dumps({"Fn::GetAtt": ["EticketTable", "Arn"]}),
        json.dumps({"Ref": "TopSecret"}),
    }


def test_the_operator_api_reads_the_cards_table_by_key_and_the_queues_counts_only():
    grants = [
        statement
        for name, statement in _statements()
        if name == "OperatorApiFunction"
        and any(
            _named_resource(resource) in {"CardsTable", *FAILURE_QUEUE_NAMES}
            for resource in _as_list(statement["Resource"])
        )
    ]
    by_sid = {statement["Sid"]: statement for statement in grants}
    assert set(by_sid) == {"CardsStateReadAndPrintRelease", "CardCursorsRead", "FailureQueuesCount"}
    # A card's state, why a delivery waits, a print run's release: item by item and one
    # template's claims, never a Scan or a batch of cards
    assert set(by_sid["CardsStateReadAndPrintRelease"]["Action"]) == {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:DeleteItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
    }
    # The console's stock: one BatchGetItem of the allocation cursors only
    cursors = by_sid["CardCursorsRead"]
    assert cursors["Action"] == "dynamodb:BatchGetItem"
    assert cursors["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CURSOR#*"]}
    }
    # and the queues' counts: no message received, deleted or sent
    queues = by_sid["FailureQueuesCount"]
    assert queues["Action"] == "sqs:GetQueueAttributes"
    assert {_named_resource(resource) for resource in queues["Resource"]} == set(
        FAILURE_QUEUE_NAMES
    )


FAILURE_QUEUE_NAMES = (
    "GeneratorFailures",
    "DeliveryFailures",
    "EventsFailures",
    "NotifierFailures",
    "FulfilmentFailures",
)


def _environment(function: str) -> set[str]:
    properties = TEMPLATE["Resources"][function]["Properties"]
    return set(properties.get("Environment", {}).get("Variables", {}))


def test_each_function_gets_exactly_the_variables_its_settings_read():
    functions = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
    assert set(FUNCTION_SETTINGS) == set(functions)
    # Globals hold only what Powertools reads, for every function alike
    shared = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    assert all(name.startswith("POWERTOOLS_") for name in shared)
    for function, settings in FUNCTION_SETTINGS.items():
        variables = _environment(function)
        # nothing the function does not read
        assert variables <= settings.variables(), (function, variables - settings.variables())
        # and everything it cannot do without
        required = {field.alias for field in settings.model_fields.values() if field.is_required()}
        assert required <= variables, (function, required - variables)


def _stream_event(function: str, event: str) -> dict:
    return TEMPLATE["Resources"][function]["Properties"]["Events"][event]["Properties"]


def test_generator_stream_is_bounded_and_has_a_failure_queue():
    stream = _stream_event("CardGeneratorFunction", "OrdersStream")
    assert stream["Stream"] == {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    assert stream["MaximumRetryAttempts"] == {"Ref": "StreamMaxRetries"}
    retries = TEMPLATE["Parameters"]["StreamMaxRetries"]
    assert 0 <= int(retries["Default"]) <= int(retries["MaxValue"]) <= 10  # never -1 (forever)
    assert stream["BisectBatchOnFunctionError"] is True
    assert 0 < stream["MaximumRecordAgeInSeconds"] <= 86400
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["GeneratorFailures", "Arn"]},
    }
    assert stream["BatchSize"] == 1
    assert stream["ParallelizationFactor"] == 10
    # the generator learns the same bound, to mark an order FAILED on its last attempt
    variables = TEMPLATE["Resources"]["CardGeneratorFunction"]["Properties"]["Environment"]
    assert variables["Variables"]["STREAM_MAX_RETRIES"] == {"Ref": "StreamMaxRetries"}


def test_generator_filters_look_only_inside_the_dynamodb_key():
    patterns = [
        json.loads(item["Pattern"])
        for item in _stream_event("CardGeneratorFunction", "OrdersStream")["FilterCriteria"][
            "Filters"
        ]
    ]
    assert patterns == [
        {"dynamodb": {"NewImage": {"entity": {"S": ["ORDER"]}, "status": {"S": ["RECEIVED"]}}}},
        {"dynamodb": {"NewImage": {"entity": {"S": ["CHUNK"]}}}},
    ]


def test_cards_table_has_no_stream_and_the_data_key_rotates():
    cards = TEMPLATE["Resources"]["CardsTable"]["Properties"]
    assert "StreamSpecification" not in cards
    assert cards["SSESpecification"]["SSEEnabled"] is True
    key = TEMPLATE["Resources"]["CardDataKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (statement,) = key["KeyPolicy"]["Statement"]
    assert statement["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }


def test_generator_may_not_read_cards_or_decrypt_outside_its_key():
    statements = {s["Sid"]: s for name, s in _statements() if name == "CardGeneratorFunction"}
    assert set(_as_list(statements["CardsWrite"]["Action"])) == {
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
    }
    assert statements["DataKeys"]["Resource"] == {"Fn::GetAtt": ["CardDataKey", "Arn"]}
    assert statements["FailuresQueue"]["Resource"] == {"Fn::GetAtt": ["GeneratorFailures", "Arn"]}


@pytest.mark.parametrize("event", ["DeliveriesStream", "OrdersGenerated"])
def test_delivery_streams_are_bounded_and_have_a_failure_queue(event):
    stream = _stream_event("CardDeliveryFunction", event)
    assert stream["MaximumRetryAttempts"] == {"Ref": "StreamMaxRetries"}
    assert stream["BisectBatchOnFunctionError"] is True
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["DeliveryFailures", "Arn"]
    }
    patterns = [json.loads(item["Pattern"]) for item in stream["FilterCriteria"]["Filters"]]
    assert all(set(pattern) == {"dynamodb"} for pattern in patterns)


def test_notifier_stream_is_bounded_filtered_and_has_a_failure_queue():
    stream = _stream_event("PlatformNotifierFunction", "OrdersStream")
    assert stream["Stream"] == {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    assert stream["MaximumRetryAttempts"] == {"Ref": "StreamMaxRetries"}
    assert stream["BisectBatchOnFunctionError"] is True
    assert 0 < stream["MaximumRecordAgeInSeconds"] <= 86400
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["NotifierFailures", "Arn"]},
    }
    # One batch per shard at a time: an order's records never run side by side
    assert "ParallelizationFactor" not in stream
    patterns = [json.loads(item["Pattern"]) for item in stream["FilterCriteria"]["Filters"]]
    assert patterns == [
        {
            "dynamodb": {
                "NewImage": {
                    "entity": {"S": ["ORDER"]},
                    "status": {"S": ["GENERATED", "MADE", "SHIPPED", "CONFIRMED"]},
                }
            }
        }
    ]
    # the notifier learns the same bound, to record a notification FAILED on its last attempt
    variables = TEMPLATE["Resources"]["PlatformNotifierFunction"]["Properties"]["Environment"]
    assert variables["Variables"]["STREAM_MAX_RETRIES"] == {"Ref": "StreamMaxRetries"}
    # and sends no TOP session unless one is configured for the notices
    assert variables["Variables"]["NOTIFY_WITH_SESSION"] == "false"


def test_notifier_touches_only_the_orders_table_the_top_secret_and_its_queue():
    statements = {s["Sid"]: s for name, s in _statements() if name == "PlatformNotifierFunction"}
    actions = {
        action for statement in statements.values() for action in _as_list(statement["Action"])
    }
    assert not {a for a in actions if a.startswith("kms:")}
    assert {"dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem"}.isdisjoint(actions)
    assert statements["OrdersNotify"]["Resource"] == {"Fn::GetAtt": ["OrdersTable", "Arn"]}
    assert statements["FailuresQueue"]["Resource"] == {"Fn::GetAtt": ["NotifierFailures", "Arn"]}
    assert statements["TopSecretRead"]["Resource"] == {"Ref": "TopSecret"}


def test_delivery_function_reads_cards_but_cannot_write_them_or_generate_keys():
    statements = {s["Sid"]: s for name, s in _statements() if name == "CardDeliveryFunction"}
    actions = {
        action for statement in statements.values() for action in _as_list(statement["Action"])
    }
    assert "kms:Decrypt" in actions
    assert "kms:GenerateDataKey" not in actions
    assert "dynamodb:BatchWriteItem" not in actions
    assert "dynamodb:Scan" not in actions
    assert statements["DeliveriesOfAnOrder"]["Resource"] == {
        "Fn::Sub": "${DeliveriesTable.Arn}/index/ByOrder"
    }


def test_the_orders_list_index_is_sparse_and_keeps_only_what_the_list_shows():
    table = TEMPLATE["Resources"]["OrdersTable"]["Properties"]
    (index,) = [
        index
        for index in table["GlobalSecondaryIndexes"]
        if index["IndexName"] == order_list.BY_ENVIRONMENT_INDEX
    ]
    assert index["KeySchema"] == [
        {"AttributeName": "own_sign", "KeyType": "HASH"},
        {"AttributeName": "received_at", "KeyType": "RANGE"},
    ]
    # What the repository reads of it, and never the templates (up to 64 KB a header)
    assert index["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": list(order_list.ORDER_LIST_ATTRIBUTES),
    }
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert (types["own_sign"], types["received_at"]) == ("S", "S")
    # Sparse: order headers have both keys, chunks have no received_at
    order = Order.receive(_ONE_ORDER, datetime.now(UTC))
    header = schema.header_item(order)
    assert {"own_sign", "received_at", *order_list.ORDER_LIST_ATTRIBUTES} <= set(header)
    chunk = schema.chunk_item(plan_chunks(order, 0, 5000)[0])
    assert "received_at" not in chunk


def test_order_and_delivery_routes_need_iam():
    events = TEMPLATE["Resources"]["OperatorApiFunction"]["Properties"]["Events"]
    assert {"ListOrders", "GetOrder", "MarkOrderMade", "ShipOrder"} <= set(events)
    for name in (
        "ListOrders",
        "GetOrder",
        "MarkOrderMade",
        "ShipOrder",
        "CreateDelivery",
        "GetDelivery",
    ):
        assert "Auth" not in events[name]["Properties"]  # the API's default: AWS_IAM
    assert TEMPLATE["Resources"]["DeliveriesTable"]["Properties"]["StreamSpecification"] == {
        "StreamViewType": "NEW_AND_OLD_IMAGES"
    }


def _alarms() -> dict[str, dict]:
    return {
        name: resource["Properties"]
        for name, resource in resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm").items()
    }


def _alarmed(namespace: str, metric: str) -> list[dict]:
    """The dimension values of the alarms on ``namespace``/``metric``."""
    return [
        alarm["Dimensions"][0]["Value"]
        for alarm in _alarms().values()
        if alarm["Namespace"] == namespace and alarm["MetricName"] == metric
    ]


def test_every_failure_queue_has_an_alarm_on_its_first_message():
    # Given every on-failure destination of every stream event in the template
    destinations = {
        event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        for function in resources_of_type(TEMPLATE, "AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    }
    assert destinations == {
        "GeneratorFailures",
        "DeliveryFailures",
        "EventsFailures",
        "NotifierFailures",
        "FulfilmentFailures",
    }
    # Then each queue alarms as soon as one batch lands in it
    alarmed = _alarmed("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert sorted(alarmed, key=str) == sorted(
        ({"Fn::GetAtt": [queue, "QueueName"]} for queue in destinations), key=str
    )
    for alarm in _alarms().values():
        if alarm["Namespace"] == "AWS/SQS":
            assert alarm["Threshold"] == 1
            assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_every_stream_function_has_an_iterator_age_alarm_and_every_function_an_error_alarm():
    functions = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
    streamed = {
        name
        for name, function in functions.items()
        if any(e["Type"] == "DynamoDB" for e in function["Properties"].get("Events", {}).values())
    }
    assert streamed == {
        "CardGeneratorFunction",
        "CardDeliveryFunction",
        "LifecycleEventsFunction",
        "PlatformNotifierFunction",
        "EticketFulfilmentFunction",
    }
    assert sorted(str(v) for v in _alarmed("AWS/Lambda", "IteratorAge")) == sorted(
        str({"Ref": name}) for name in streamed
    )
    assert sorted(str(v) for v in _alarmed("AWS/Lambda", "Errors")) == sorted(
        str({"Ref": name}) for name in functions
    )
    assert _alarmed("AWS/ApiGateway", "5xx") == [{"Ref": "HttpApi"}]


def test_every_alarm_notifies_the_alarm_topic_and_the_email_is_optional():
    for name, alarm in _alarms().items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["TreatMissingData"] == "notBreaching", name
    subscription = TEMPLATE["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert TEMPLATE["Parameters"]["AlarmEmail"]["Default"] == ""
    # the topic is encrypted (alarm texts name tables and functions) with a key CloudWatch
    # may use: the AWS managed aws/sns key would silently swallow every alarm
    topic = TEMPLATE["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    statements = TEMPLATE["Resources"]["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [
        s for s in statements if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


# --- What the retained data depends on -------------------------------------------------------


def _retained(name: str) -> bool:
    resource = TEMPLATE["Resources"][name]
    return (
        resource.get("DeletionPolicy") == "Retain"
        and resource.get("UpdateReplacePolicy") == "Retain"
    )


def _named_resource(resource: object) -> str | None:
    """The template resource a policy's Resource entry names (Ref, GetAtt or Sub)."""
    if not isinstance(resource, dict):
        return None
    if "Ref" in resource:
        return str(resource["Ref"])
    if "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    if "Fn::Sub" in resource:
        text = str(resource["Fn::Sub"])
        return text[2 : text.index(".")] if text.startswith("${") and "." in text else None
    return None


_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"}
_KEYS_AND_SECRETS = {"AWS::KMS::Key", "AWS::SecretsManager::Secret"}


def _keys_and_secrets_behind_retained_data() -> dict[str, set[str]]:
    """Each KMS key and secret a function uses while it writes a retained table: what is
    written there was made with it (sealed card secrets, numbered cards, verified orders)."""
    behind: dict[str, set[str]] = {}
    functions = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
    for function in functions:
        named = [
            (set(_as_list(statement["Action"])), _named_resource(resource))
            for name, statement in _statements()
            if name == function
            for resource in _as_list(statement["Resource"])
        ]
        writes_retained = any(
            actions & _WRITES and target is not None and _retained(target)
            for actions, target in named
        )
        if not writes_retained:
            continue
        for _, target in named:
            if target and TEMPLATE["Resources"][target]["Type"] in _KEYS_AND_SECRETS:
                behind.setdefault(target, set()).add(function)
    return behind


def test_every_key_and_secret_the_retained_data_depends_on_is_retained():
    # Given the tables that outlive the stack
    tables = resources_of_type(TEMPLATE, "AWS::DynamoDB::Table")
    assert tables
    assert all(_retained(name) for name in tables)
    # When we find the keys and secrets their data was made with
    behind = _keys_and_secrets_behind_retained_data()
    # Then the card key, the numbering key and the TOP secret are among them
    assert {"CardDataKey", "CardNumberSecret", "TopSecret"} <= set(behind)
    # and every one of them survives a delete or a replacement of the stack as the data does
    assert [name for name in behind if not _retained(name)] == []


def test_the_card_key_is_usable_only_with_a_chunks_encryption_context():
    # Given the context every data key is generated and unwrapped with
    context_keys = sorted(chunk_key_context(OrderKey("daily", 16002), "3010030E02-0"))
    # Then every grant of the card key demands exactly those context keys, and some context
    grants = [
        (function, statement)
        for function, statement in _statements()
        if _named_resource(statement["Resource"]) == "CardDataKey"
    ]
    assert {function for function, _ in grants} == {
        "CardGeneratorFunction",
        "CardDeliveryFunction",
        "EticketFulfilmentFunction",  # a resend opens the secrets it sends again
        "OperatorPolicy",  # cards export opens the secrets it prints
    }
    for function, statement in grants:
        condition = statement.get("Condition", {})
        assert condition.get("ForAllValues:StringEquals") == {
            "kms:EncryptionContextKeys": context_keys
        }, function
        assert condition.get("Null") == {"kms:EncryptionContextKeys": "false"}, function


# --- the card-number scheme's parameters ----------------------------------------------------

CARD_NUMBER_PARAMETERS = {
    "CardNumberLength": "CARD_NUMBER_LENGTH",
    "CardNumberPrefix": "CARD_NUMBER_PREFIX",
    "CardCheckDigit": "CARD_CHECK_DIGIT",
}


def _template_accepts(values: Mapping[str, str]) -> bool:
    """Whether CloudFormation takes these parameter values (the others at their defaults):
    each parameter's own constraints, then every rule whose condition holds."""
    declared = TEMPLATE["Parameters"]
    given = {name: str(spec.get("Default", "")) for name, spec in declared.items()} | dict(values)
    for name, value in values.items():
        spec = declared[name]
        if "AllowedValues" in spec and value not in [str(item) for item in spec["AllowedValues"]]:
            return False
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            return False
        if "MinValue" in spec and float(value) < float(spec["MinValue"]):
            return False
        if "MaxValue" in spec and float(value) > float(spec["MaxValue"]):
            return False
    for rule in TEMPLATE.get("Rules", {}).values():
        if "RuleCondition" in rule and not _rule_value(rule["RuleCondition"], given):
            continue
        if not all(_rule_value(check["Assert"], given) for check in rule["Assertions"]):
            return False
    return True


def _rule_value(expression: Any, given: Mapping[str, str]) -> Any:
    """A rule function's value, as CloudFormation computes it (the functions the rules use)."""
    if isinstance(expression, str):
        return expression
    if isinstance(expression, list):
        return [_rule_value(item, given) for item in expression]
    [(function, argument)] = expression.items()
    if function == "Ref":
        return given[argument]
    values = _rule_value(argument, given)
    match function:
        case "Fn::Equals":
            return values[0] == values[1]
        case "Fn::Contains":
            return values[1] in values[0]
        case "Fn::And":
            return all(values)
        case "Fn::Or":
            return any(values)
        case "Fn::Not":
            return not values[0]
    raise AssertionError(f"no evaluator for {function}")


def _generator_accepts(values: Mapping[str, str]) -> bool:
    environ = {
        "ORDERS_TABLE_NAME": "orders",
        "CARDS_TABLE_NAME": "cards",
        "CARD_KEY_ID": "key",
        "CARD_NUMBER_SECRET_ID": "arn:numbers",
    }
    environ |= {CARD_NUMBER_PARAMETERS[name]: value for name, value in values.items()}
    try:
        FUNCTION_SETTINGS["CardGeneratorFunction"].from_env(environ)
    except ValidationError:
        return False
    return True


def test_card_number_parameters_keep_six_to_nineteen_free_digits():
    # 20 free digits do not fit the permutation (two sequence numbers could become one card
    # number); a rule sees it where it can name the prefix: none (the default, 3101) or one digit
    for values in (
        {"CardNumberLength": "21", "CardNumberPrefix": "3"},  # 20 free digits
        {"CardNumberLength": "30", "CardNumberPrefix": "0", "CardCheckDigit": "luhn"},
        {"CardNumberLength": "24", "CardNumberPrefix": ""},  # 3101 + 20 free digits
        {"CardNumberLength": "9", "CardNumberPrefix": ""},  # 3101 + 5 free digits
    ):
        assert not _template_accepts(values), values
        assert not _generator_accepts(values), values
    # and wherever it can, the template takes exactly the schemes the generator takes
    for length, prefix, check_digit in itertools.product(
        range(1, 40), ["", "0", "3", "9"], ["none", "luhn"]
    ):
        values = {
            "CardNumberLength": str(length),
            "CardNumberPrefix": prefix,
            "CardCheckDigit": check_digit,
        }
        assert _template_accepts(values) == _generator_accepts(values), values
    assert _template_accepts({})
    assert _generator_accepts({})


def test_card_number_parameters_say_the_bound_they_cannot_check():
    # a longer prefix's digits cannot be counted by a rule: the generator's settings refuse
    # the scheme at cold start, and the parameters say so
    values = {"CardNumberLength": "30", "CardNumberPrefix": "31"}  # 28 free digits
    assert _template_accepts(values)
    assert not _generator_accepts(values)
    for name in ("CardNumberLength", "CardNumberPrefix"):
        spec = TEMPLATE["Parameters"][name]
        assert "6 to 19 free digits" in spec["Description"], name
        assert "6 to 19 free digits" in spec["ConstraintDescription"], name


def test_the_api_access_log_records_who_called_and_is_kept_for_a_while():
    api = TEMPLATE["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    assert api["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogs", "Arn"]}
    record = json.loads(api["Format"])  # one JSON object per request
    # Then each request is logged with who signed it (the IAM principal), what and when
    assert record["caller"] == "$context.identity.caller"
    assert record["userArn"] == "$context.identity.userArn"
    assert record["accountId"] == "$context.identity.accountId"
    for name, variable in {
        "requestId": "$context.requestId",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
    }.items():
        assert record[name] == variable, name
    logs = TEMPLATE["Resources"]["HttpApiAccessLogs"]
    assert logs["Type"] == "AWS::Logs::LogGroup"
    assert logs["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# --- the dashboard ----------------------------------------------------------------------------


def _dashboard_metrics() -> list[list[str]]:
    """Every metric line of the dashboard's widgets, its ${...} references kept as text."""
    body = TEMPLATE["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]
    assert widgets
    lines = []
    for widget in widgets:
        properties = widget["properties"]
        assert properties["region"] == "${AWS::Region}", properties["title"]
        lines += properties["metrics"]
    return lines


def test_the_dashboard_shows_only_metrics_the_code_emits():
    from tests.integration.test_readme import _emitted_metrics  # noqa: PLC0415 (its discovery)

    emitted = _emitted_metrics()
    ours = [line for line in _dashboard_metrics() if line[0] == "Cardmaker"]
    # The functions' metrics: the namespace and the one dimension Powertools puts on them
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"] == {
        **TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
        "POWERTOOLS_METRICS_NAMESPACE": "Cardmaker",
        "POWERTOOLS_SERVICE_NAME": "cardmaker",
    }
    for line in ours:
        assert line[1] in emitted, f"the code never emits {line[1]}"
        assert line[2:] == ["service", "cardmaker"], line
    # and every business metric the code emits is on it (ColdStart has function_name too)
    assert {line[1] for line in ours} == set(emitted) - {"ColdStart"}


def test_the_dashboard_shows_failures_and_how_far_each_stream_function_is_behind():
    lines = _dashboard_metrics()
    resources = TEMPLATE["Resources"]
    stream_functions = {
        name
        for name, function in resources_of_type(TEMPLATE, "AWS::Serverless::Function").items()
        if any(e["Type"] == "DynamoDB" for e in function["Properties"].get("Events", {}).values())
    }
    assert stream_functions == {
        "CardGeneratorFunction",
        "CardDeliveryFunction",
        "LifecycleEventsFunction",
        "PlatformNotifierFunction",
        "EticketFulfilmentFunction",
    }
    shown = {(line[0], line[1], line[3]) for line in lines if line[0] != "Cardmaker"}
    for function in stream_functions:
        assert ("AWS/Lambda", "IteratorAge", f"${{{function}}}") in shown
    for function in resources_of_type(TEMPLATE, "AWS::Serverless::Function"):
        assert ("AWS/Lambda", "Errors", f"${{{function}}}") in shown
    queues = [name for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"]
    assert queues
    for queue in queues:
        visible = ("AWS/SQS", "ApproximateNumberOfMessagesVisible", f"${{{queue}.QueueName}}")
        assert visible in shown
    # every AWS metric names a resource of the template
    for _, _, reference in shown:
        assert re.fullmatch(r"\$\{(\w+)(\.\w+)?\}", reference), reference
        assert reference[2:-1].split(".")[0] in resources, reference
    assert TEMPLATE["Outputs"]["DashboardName"]["Value"] == {"Ref": "Dashboard"}


# --- lifecycle events ------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["OrdersStream", "DeliveriesStream"])
def test_lifecycle_event_streams_are_bounded_filtered_and_have_a_failure_queue(event):
    stream = _stream_event("LifecycleEventsFunction", event)
    assert stream["MaximumRetryAttempts"] == {"Ref": "StreamMaxRetries"}
    assert stream["BisectBatchOnFunctionError"] is True
    assert 0 < stream["MaximumRecordAgeInSeconds"] <= 86400
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["EventsFailures", "Arn"]},
    }
    (pattern,) = [json.loads(item["Pattern"]) for item in stream["FilterCriteria"]["Filters"]]
    image = pattern["dynamodb"]["NewImage"]
    if event == "OrdersStream":
        assert stream["Stream"] == {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
        assert image["entity"] == {"S": ["ORDER"]}
        statuses = {"RECEIVED", "GENERATED", "MADE", "SHIPPED", "CONFIRMED", "FAILED"}
    else:
        assert stream["Stream"] == {"Fn::GetAtt": ["DeliveriesTable", "StreamArn"]}
        assert image["entity"] == {"S": ["DELIVERY"]}
        statuses = {"DELIVERED", "PARTIAL", "FAILED"}
    assert set(image["status"]["S"]) == statuses


def test_the_lifecycle_function_only_publishes_to_its_bus():
    statements = {s["Sid"]: s for name, s in _statements() if name == "LifecycleEventsFunction"}
    actions = {a for statement in statements.values() for a in _as_list(statement["Action"])}
    assert {a for a in actions if not a.startswith("dynamodb:")} == {
        "events:PutEvents",
        "sqs:SendMessage",
    }
    assert {a.split(":")[1] for a in actions if a.startswith("dynamodb:")} == {
        "DescribeStream",
        "GetRecords",
        "GetShardIterator",
        "ListStreams",
    }
    assert statements["PublishToTheBus"]["Resource"] == {"Fn::GetAtt": ["LifecycleBus", "Arn"]}
    variables = TEMPLATE["Resources"]["LifecycleEventsFunction"]["Properties"]["Environment"]
    assert variables["Variables"] == {"LIFECYCLE_BUS_NAME": {"Ref": "LifecycleBus"}}


def test_every_lifecycle_event_is_archived_to_a_log_group_only_eventbridge_writes():
    resources = TEMPLATE["Resources"]
    rule = resources["LifecycleArchiveRule"]
    assert rule["DependsOn"] == "LifecycleEventsLogPolicy"
    properties = rule["Properties"]
    assert properties["EventBusName"] == {"Ref": "LifecycleBus"}
    assert properties["EventPattern"] == {"source": ["cardmaker"]}
    (target,) = properties["Targets"]
    assert target["Arn"]["Fn::Sub"].endswith(":log-group:${LifecycleEventsLog}")
    assert "RoleArn" not in target  # CloudWatch Logs targets go by the resource policy
    log = resources["LifecycleEventsLog"]["Properties"]
    assert log["LogGroupName"]["Fn::Sub"].startswith("/aws/events/")
    assert log["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    text = resources["LifecycleEventsLogPolicy"]["Properties"]["PolicyDocument"]["Fn::Sub"]
    policy = json.loads(re.sub(r"\$\{[\w:.]+\}", "X", text))
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {
        "Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
    }
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert '"Resource": "${LifecycleEventsLog.Arn}"' in text
    rule_arn = "rule/${LifecycleBus}/${AWS::StackName}-lifecycle-archive"
    assert rule_arn in text
    assert properties["Name"] == {"Fn::Sub": "${AWS::StackName}-lifecycle-archive"}
    outputs = TEMPLATE["Outputs"]
    assert outputs["LifecycleBusName"]["Value"] == {"Ref": "LifecycleBus"}
    assert outputs["LifecycleBusArn"]["Value"] == {"Fn::GetAtt": ["LifecycleBus", "Arn"]}
    assert outputs["LifecycleEventsLogGroupName"]["Value"] == {"Ref": "LifecycleEventsLog"}
    assert outputs["EventsFailuresQueueUrl"]["Value"] == {"Ref": "EventsFailures"}


def test_the_cards_table_is_pre_warmed_only_when_asked_and_says_what_it_costs():
    # Warm throughput costs money once raised and cannot be lowered: off unless asked for.
    parameter = TEMPLATE["Parameters"]["CardsTableWarmWrites"]
    assert parameter["Type"] == "Number"
    assert parameter["Default"] == 0
    assert parameter["MinValue"] == 0
    assert "cost" in parameter["Description"].lower()
    assert TEMPLATE["Conditions"]["WarmCardsTable"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "CardsTableWarmWrites"}, 0]}]
    }
    warm = TEMPLATE["Resources"]["CardsTable"]["Properties"]["WarmThroughput"]
    when_on, when_off = warm["Fn::If"][1:]
    assert warm["Fn::If"][0] == "WarmCardsTable"
    assert when_on == {
        "WriteUnitsPerSecond": {"Ref": "CardsTableWarmWrites"},
        # a new on-demand table's own read value: asking for it costs nothing
        "ReadUnitsPerSecond": 12000,
    }
    assert when_off == {"Ref": "AWS::NoValue"}
