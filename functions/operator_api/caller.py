"""Who signed the request: the IAM principal API Gateway's IAM authorizer authenticated."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from cardmaker import Requester, RequesterUnknown


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
