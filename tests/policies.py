"""Reading the template's IAM policies as the least-privilege tests compare them with the AWS
calls they record: one naming of resources and actions for the functions' policies and the
operators'."""

from __future__ import annotations

import re
from typing import Any

# How IAM authorises each item of a TransactWriteItems call: as its own action.
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}

_EXECUTE_API = (
    r"arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
    r"\$\{HttpApi\}(/\$default/[A-Z]+/.*)"
)
_THIS_STACK = (
    r"arn:\$\{AWS::Partition\}:cloudformation:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
    r"stack/\$\{AWS::StackName\}/\*"
)


def transaction_writes(params: dict[str, Any]) -> list[tuple[str, str]]:
    """A TransactWriteItems call as IAM authorises it: (dynamodb action, table name) per
    item, each item its own action."""
    return [
        (f"dynamodb:{TRANSACT_ACTIONS[kind]}", write["TableName"])
        for item in params["TransactItems"]
        for kind, write in item.items()
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resource_key(value: Any) -> str:
    """A statement's resource as the recorders name it: '<logical id>[/stream |
    /index/<name>]', 'HttpApi/$default/<METHOD>/<path>' for a route, 'stack' for this stack."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, attribute = value["Fn::GetAtt"]
        return {"Arn": target, "StreamArn": f"{target}/stream"}[attribute]
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        index = re.fullmatch(r"\$\{(\w+)\.Arn\}(/index/\w+)", text)
        if index:
            return index.group(1) + index.group(2)
        route = re.fullmatch(_EXECUTE_API, text)
        if route:
            return "HttpApi" + route.group(1)
        if re.fullmatch(_THIS_STACK, text):
            return "stack"
    raise AssertionError(f"not a resource of the template: {value!r}")
