"""The local stack's Lambda Invoke API, driven by boto3's lambda client over real HTTP."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config

from local.template import ACCOUNT, REGION


@pytest.fixture
def lambda_client(local_stack):
    return boto3.client(
        "lambda",
        endpoint_url=local_stack.outputs()["LambdaEndpointUrl"],
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


# A stream record the generator has nothing to do for (neither an order nor a chunk).
IDLE_EVENT = {
    "Records": [
        {
            "eventID": "1",
            "eventName": "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": {"NewImage": {"entity": {"S": "NOTHING"}}, "SequenceNumber": "100"},
        }
    ]
}


def invoke(client, function, event, **options):
    answer = client.invoke(FunctionName=function, Payload=json.dumps(event).encode(), **options)
    payload = answer["Payload"].read()
    return answer, json.loads(payload) if payload else None


def test_outputs_point_at_the_lambda_api(local_stack):
    outputs = local_stack.outputs()
    assert outputs["LambdaEndpointUrl"] == local_stack.lambda_url
    assert outputs["LambdaEndpointUrl"].startswith("http://127.0.0.1:")


def test_invoke_answers_the_handlers_result(lambda_client):
    answer, result = invoke(lambda_client, "CardGeneratorFunction", IDLE_EVENT)
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    assert result == {"batchItemFailures": []}


def test_invoke_by_arn_and_qualifier(lambda_client):
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:CardGeneratorFunction"
    answer, result = invoke(lambda_client, arn, IDLE_EVENT, Qualifier="$LATEST")
    assert answer["StatusCode"] == 200
    assert result == {"batchItemFailures": []}


def test_a_handler_error_is_a_function_error_with_lambdas_payload(lambda_client, local_stack):
    # No records: Powertools' batch processor raises, and Lambda reports a function error.
    answer, result = invoke(lambda_client, "CardGeneratorFunction", {"Records": []})
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert set(result) >= {"errorMessage", "errorType"}
    assert result["errorType"] == "UnexpectedBatchTypeError"
    # The stack is still serving afterwards
    answer, _ = invoke(lambda_client, "CardGeneratorFunction", IDLE_EVENT)
    assert "FunctionError" not in answer


def test_unknown_function_is_resource_not_found(lambda_client):
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as raised:
        invoke(lambda_client, "NoSuchFunction", {})
    assert "NoSuchFunction" in raised.value.response["Error"]["Message"]
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        invoke(lambda_client, "CardGeneratorFunction", {}, Qualifier="7")


def test_payload_that_is_not_json_is_refused(lambda_client):
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
        lambda_client.invoke(FunctionName="CardGeneratorFunction", Payload=b"{not json")


def test_dry_run_does_not_invoke(lambda_client):
    answer = lambda_client.invoke(
        FunctionName="CardGeneratorFunction", Payload=b"{}", InvocationType="DryRun"
    )
    assert answer["StatusCode"] == 204
