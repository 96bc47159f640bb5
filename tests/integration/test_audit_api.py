"""The audit trail through the operator API's handler, with API Gateway events on moto: every
action the API does is on record with who (the IAM principal of the event) and when;
``GET /audit`` lists it newest first, by order, a page at a time; ``POST /audit`` puts on
record what the CLI did straight against AWS. Refusals write nothing, secrets never reach the
trail, and the template lets the function only append to its table."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pytest

from cardmaker import AuditAction, AuditEntry, DynamoDBAuditLog, OrderKey, Requester
from cardmaker.store import audit as audit_store
from cardmaker_cli.samples import DEMO_SECRET
from local.apigw import http_api_event, iam_identity
from local.platform import sample_delivery
from local.template import load_template
from tests.conftest import OPERATOR, SESSION_KEY, delivery_post_event
from tests.integration.test_order_lifecycle_api import made_event, shipment_event, store_order

BOB = iam_identity("arn:aws:iam::123456789012:user/operator-bob", caller_id="AIDAOPERATORBOB0001")
TEMPLATE = load_template()


def audit_event(iam: dict[str, Any] | None = OPERATOR, **params: Any) -> dict[str, Any]:
    return http_api_event(
        "GET",
        "/audit",
        raw_query=urlencode({k: v for k, v in params.items() if v is not None}),
        route_key="GET /audit",
        iam=iam,
    )


def report_event(body: Any, iam: dict[str, Any] | None = OPERATOR) -> dict[str, Any]:
    return http_api_event(
        "POST",
        "/audit",
        headers=[("content-type", "application/json")],
        body=json.dumps(body).encode(),
        route_key="POST /audit",
        iam=iam,
    )


def product_event(code: str, body: Any, iam: dict[str, Any] = OPERATOR) -> dict[str, Any]:
    return http_api_event(
        "PUT",
        f"/eticket/products/{code}",
        headers=[("content-type", "application/json")],
        body=json.dumps(body).encode(),
        route_key="PUT /eticket/products/{merchant_code}",
        path_parameters={"merchant_code": code},
        iam=iam,
    )


def answered(invoke: Any, event: dict[str, Any]) -> tuple[int, Any]:
    answer = invoke(event)
    return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def audit_items(dynamodb, stack):
    def scan() -> list[dict[str, Any]]:
        table = stack.physical["AuditTable"]
        return dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]

    return scan


EXPORT = {
    "action": "cards.exported",
    "subject": "CM-daily-16002/T1",
    "making_card_no": "CM-daily-16002",
    "details": {"template_no": "T1", "cards": 2, "format": "csv"},
}


def test_every_action_of_the_api_is_on_record_with_who_and_when(invoke, dynamodb, orders_table):
    # Given a generated order
    store_order(dynamodb, orders_table)
    # When operators deliver, make, ship and map a product
    delivery = sample_delivery("bind", template_no="T1", quantity=1, out_biz_id="AUDIT-1")
    assert invoke(delivery_post_event(delivery))["statusCode"] == 202
    assert invoke(made_event(iam=BOB))["statusCode"] == 202
    assert invoke(shipment_event())["statusCode"] == 202
    mapping = {"own_sign": "daily", "template_no": "T1", "certificate_type": 1}
    assert invoke(product_event("GIFT-1", mapping))["statusCode"] == 200
    # Then the trail lists each, newest first, with who signed it and when
    status, page = answered(invoke, audit_event())
    assert status == 200
    entries = page["entries"]
    assert [e["action"] for e in entries] == [
        "product.mapped",
        "order.shipped",
        "order.made",
        "delivery.created",
    ]
    assert [e["who"]["user_arn"] for e in entries] == [
        OPERATOR["userArn"],
        OPERATOR["userArn"],
        BOB["userArn"],
        OPERATOR["userArn"],
    ]
    assert entries[2]["who"]["caller_id"] == BOB["callerId"]
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    assert all(e["source"] == "api" for e in entries)
    assert entries[1]["details"]["logistics_order_id"] == "SF1234567890"
    assert entries[3]["subject"].startswith("BD-")
    assert entries[3]["details"] == {
        "type": "bind",
        "template_no": "T1",
        "quantity": 1,
        "status": "PENDING",
    }
    assert entries[0]["subject"] == "GIFT-1"
    assert "making_card_no" not in entries[0]
    # and one order's entries are those of that order
    _, of_order = answered(invoke, audit_event(order="CM-daily-16002"))
    assert [e["action"] for e in of_order["entries"]] == [
        "order.shipped",
        "order.made",
        "delivery.created",
    ]
    _, other = answered(invoke, audit_event(order="CM-online-16002"))
    assert other == {"entries": []}


def test_a_step_taken_again_is_on_record_again_saying_nothing_changed(
    invoke, dynamodb, orders_table
):
    store_order(dynamodb, orders_table)
    invoke(made_event())
    invoke(made_event())
    _, page = answered(invoke, audit_event())
    assert [e["details"]["changed"] for e in page["entries"]] == ["no (already MADE)", "yes"]


def test_refused_actions_put_nothing_on_record(invoke, dynamodb, orders_table, audit_items):
    # A step from the wrong status, an unknown order, a delivery the order cannot serve, a
    # bad waybill, a request with no IAM identity: refused, and the trail stays empty
    store_order(dynamodb, orders_table, key=OrderKey("daily", 16003))
    refused = [
        shipment_event(card_order_id=16003),  # 409: not MADE
        made_event(card_order_id=404),  # 404
        made_event(iam=None),  # 403
        shipment_event({"logistics_company": "", "logistics_order_id": "x"}),  # 422
        delivery_post_event(sample_delivery("bind", card_order_id=404)),  # 422
        delivery_post_event(sample_delivery("bind", card_order_id=16003), iam=None),  # 403
        product_event("GIFT-2", {"own_sign": "nowhere", "template_no": "T1"}),  # 422
    ]
    for event in refused:
        assert invoke(event)["statusCode"] >= 400
    assert audit_items() == []


def test_the_cli_reports_what_it_did_under_the_signers_identity(invoke, audit_items):
    # When the CLI reports a print run, signed by Bob
    status, entry = answered(invoke, report_event(EXPORT, iam=BOB))
    # Then it is on record as Bob's, seen by the CLI
    assert status == 201
    assert entry["who"]["user_arn"] == BOB["userArn"]
    assert entry["source"] == "cli"
    assert entry["entry_id"].startswith("AU-")
    assert entry["details"] == EXPORT["details"]
    _, page = answered(invoke, audit_event(order="CM-daily-16002"))
    assert page["entries"] == [entry]
    # and a "who" in the body is no field of it: refused, nothing more written
    before = audit_items()
    forged = {**EXPORT, "who": "arn:aws:iam::123456789012:user/someone-else"}
    assert answered(invoke, report_event(forged))[0] == 422
    assert audit_items() == before


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"action": "delivery.created"}, 422),  # the API records it itself: not reportable
        ({"action": "order.made"}, 422),
        ({"details": {"card_secret": "ABCDEFGHJKMNPQRS"}}, 422),
        ({"details": {"app_secret": "x"}}, 422),
        ({"details": {"session_key": "x"}}, 422),
        ({"details": {"token": "31231231231"}}, 422),
        ({"details": {"archive_password": "x"}}, 422),
        ({"details": {"Not-A-Name": "x"}}, 422),
        ({"details": {"note": "x" * 201}}, 422),
        ({"details": {"flag": True}}, 422),
        ({"details": {f"d{n}": n for n in range(13)}}, 422),
        ({"subject": ""}, 422),
        ({"making_card_no": "CM-nowhere-1"}, 422),
    ],
)
def test_a_report_that_cannot_be_recorded_is_refused_and_writes_nothing(
    invoke, audit_items, change, status
):
    code, body = answered(invoke, report_event({**EXPORT, **change}))
    assert code == status, body
    assert audit_items() == []
    # the refusal never echoes what it refused
    assert "ABCDEFGHJKMNPQRS" not in json.dumps(body)
    assert "31231231231" not in json.dumps(body)


def test_a_report_without_an_iam_identity_is_403_and_writes_nothing(invoke, audit_items):
    assert answered(invoke, report_event(EXPORT, iam=None))[0] == 403
    assert audit_items() == []


def test_the_trail_is_read_a_page_at_a_time_newest_first(invoke):
    for n in range(7):
        report = {**EXPORT, "subject": f"run-{n}"}
        if n % 2:
            report["making_card_no"] = "CM-daily-16009"
        assert invoke(report_event(report))["statusCode"] == 201
    for order, expected in [
        (None, [f"run-{n}" for n in reversed(range(7))]),
        ("CM-daily-16009", ["run-5", "run-3", "run-1"]),
    ]:
        seen: list[str] = []
        token = None
        while True:
            status, page = answered(invoke, audit_event(order=order, limit=2, next=token))
            assert status == 200
            assert len(page["entries"]) <= 2
            seen += [e["subject"] for e in page["entries"]]
            token = page.get("next")
            if token is None:
                break
        assert seen == expected
    # A token is bound to its listing, and a damaged one is refused
    _, first = answered(invoke, audit_event(limit=2))
    status, body = answered(invoke, audit_event(order="CM-daily-16009", next=first["next"]))
    assert status == 422
    assert body["detail"][0]["loc"] == ["query", "next"]
    assert answered(invoke, audit_event(next=first["next"][:-3] + "AAA"))[0] == 422
    assert answered(invoke, audit_event(next="not a token"))[0] == 422
    assert answered(invoke, audit_event(limit=101))[0] == 422
    assert answered(invoke, audit_event(order="16002"))[0] == 422


def test_no_secret_ever_reaches_the_trail(invoke, dynamodb, orders_table, audit_items):
    # Given an e-voucher delivery carrying the platform's token for the buyer
    store_order(dynamodb, orders_table)
    token = "tok-audit-0123456789"
    body = sample_delivery("eticket", template_no="T1", quantity=1, token=token, outer_id="77")
    assert invoke(delivery_post_event(body))["statusCode"] == 202
    invoke(made_event())
    # Then the trail holds what was asked, never the token nor a TOP secret
    stored = json.dumps(audit_items(), ensure_ascii=False)
    assert "delivery.created" in stored
    for secret in (token, DEMO_SECRET, SESSION_KEY, "mobile", "buyer_nick"):
        assert secret not in stored
    _, page = answered(invoke, audit_event())
    assert token not in json.dumps(page)


# --- the table and the grants ----------------------------------------------------------------


def _statements(function: str) -> dict[str, dict[str, Any]]:
    properties = TEMPLATE["Resources"][function]["Properties"]
    return {
        statement["Sid"]: statement
        for policy in properties.get("Policies", [])
        for statement in policy["Statement"]
    }


def _names_audit_table(statement: dict[str, Any]) -> bool:
    return "AuditTable" in json.dumps(statement["Resource"])


def test_the_functions_may_only_append_to_the_trail():
    grants = [
        (function, sid, statement)
        for function, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        for sid, statement in _statements(function).items()
        if _names_audit_table(statement)
    ]
    # Only the operator API reaches it: PutItem on the table, Query to read it, nothing else
    assert {(function, sid) for function, sid, _ in grants} == {
        ("OperatorApiFunction", "AuditAppend"),
        ("OperatorApiFunction", "AuditRead"),
    }
    append = _statements("OperatorApiFunction")["AuditAppend"]
    assert append["Action"] == "dynamodb:PutItem"
    assert _statements("OperatorApiFunction")["AuditRead"]["Action"] == "dynamodb:Query"
    # into the trail's partition, with an entry's attributes only, returning nothing old
    condition = append["Condition"]
    assert condition["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"] == ["TRAIL"]
    assert condition["ForAllValues:StringEquals"]["dynamodb:Attributes"] == list(
        audit_store.ENTRY_ATTRIBUTES
    )
    assert condition["StringEqualsIfExists"] == {"dynamodb:ReturnValues": "NONE"}
    # and the operators reach it through the API only, never the table
    operator = json.dumps(TEMPLATE["Resources"]["OperatorPolicy"])
    assert "AuditTable" not in operator


def test_what_the_store_writes_is_what_the_grant_allows(invoke, audit_items):
    invoke(report_event(EXPORT))
    (item,) = audit_items()
    assert set(item) <= set(audit_store.ENTRY_ATTRIBUTES)
    assert item["pk"] == {"S": "TRAIL"}


def test_the_trail_is_kept_like_the_other_tables():
    table = TEMPLATE["Resources"]["AuditTable"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    properties = table["Properties"]
    assert properties["DeletionProtectionEnabled"] is True
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert "TimeToLiveSpecification" not in properties
    assert "StreamSpecification" not in properties


def test_a_put_whose_answer_was_lost_is_on_record_once_and_a_taken_key_is_refused(
    stack, dynamodb, audit_items
):
    # Given an entry appended, as botocore retries a put whose answer was lost after
    # DynamoDB applied it: the retry meets its own entry
    log = DynamoDBAuditLog(stack.physical["AuditTable"], dynamodb)
    entry = AuditEntry(
        entry_id="0123456789abcdef01234567",
        at="2026-11-30T12:00:00.000+00:00",
        action=AuditAction.DELIVERY_CANCELLED,
        who=Requester(OPERATOR["userArn"]),
        subject="BD-0123456789abcdef01234567",
    )
    log.append(entry)
    # When it is appended again, Then it is on record, once, as asked
    log.append(entry)
    assert len(audit_items()) == 1
    # But another entry under the same key is refused and overwrites nothing
    with pytest.raises(audit_store.AuditEntryTaken):
        log.append(replace(entry, subject="BD-another"))
    (item,) = audit_items()
    assert item["subject"] == {"S": "BD-0123456789abcdef01234567"}
