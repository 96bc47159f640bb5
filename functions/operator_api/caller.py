"""Who signed the request: the IAM principal API Gateway's IAM authorizer authenticated; and
putting what it asked for on record (the audit trail) under that name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from cardmaker import AuditAction, OrderKey, Requester, RequesterUnknown, runtime


def requester(raw_event: dict[str, Any]) -> Requester:
    """The IAM principal of the request (its IAM authorizer's context); ``RequesterUnknown``
    when there is none (a route left without the IAM authorizer): nobody could be held to
    what it asks."""
    iam = APIGatewayProxyEventV2(raw_event).request_context.authorizer.iam
    if not iam.user_arn:
        raise RequesterUnknown("the request carries no IAM identity")
    return Requester(
        user_arn=iam.user_arn,
        caller_id=iam.caller_id,
        account_id=iam.account_id,
        principal_org_id=iam.principal_org_id,
    )


def put_on_record(
    raw_event: dict[str, Any],
    action: AuditAction,
    subject: str,
    *,
    order: OrderKey | None = None,
    details: Mapping[str, str | int] | None = None,
) -> None:
    """Append the request's action to the audit trail, with who signed it. Called once the
    action is done: a refusal records nothing; a failure to record answers 5xx, and the
    client's retry (every step is idempotent) records it then."""
    runtime.audit_trail().record(
        action, requester(raw_event), subject, order=order, details=details
    )
