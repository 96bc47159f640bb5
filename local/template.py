"""Reading ``template.yaml``: the local stack and the tests build everything from it, so that
the schema of a table or the environment of a function cannot drift from what deploys."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from cfnlint.decode import decode_str

if TYPE_CHECKING:
    from boto3 import Session

REPO = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO / "template.yaml"
LOCAL_STACK = "cardmaker-local"
REGION = "us-east-1"
ACCOUNT = "123456789012"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    template, problems = decode_str(path.read_text(encoding="utf-8"))
    if problems:
        raise ValueError(f"{path} does not parse: {problems}")
    return template


def resources_of_type(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as declared, e.g. /orders/{card_order_id}
    iam: bool = True  # behind the API's default IAM authorizer (False: Authorizer NONE)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters if ``method path`` is this route, else None."""
        if method.upper() != self.method:
            return None
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


@dataclass
class Stack:
    """The physical side of the template's resources, as created locally."""

    parameters: dict[str, str]
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> Ref value
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> GetAtt values

    def resolve(self, value: Any) -> Any:
        """Resolve ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub`` against this stack."""
        if isinstance(value, Mapping):
            if "Ref" in value:
                return self._ref(value["Ref"])
            if "Fn::GetAtt" in value:
                target, attribute = value["Fn::GetAtt"]
                return self.attributes[target][attribute]
            if "Fn::Sub" in value:
                return re.sub(
                    r"\$\{([\w:]+)\}", lambda m: str(self._ref(m.group(1))), value["Fn::Sub"]
                )
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": LOCAL_STACK,
            "AWS::Partition": "aws",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.physical[name]


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    values = {
        name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
    }
    unknown = set(overrides) - set(values)
    if unknown:
        raise ValueError(f"unknown template parameters: {sorted(unknown)}")
    return {**values, **overrides}


def create_resources(
    session: Session,
    *,
    secret_values: Mapping[str, Mapping[str, str]] | None = None,
    parameters: Mapping[str, str] | None = None,
    template: Mapping[str, Any] | None = None,
) -> Stack:
    """Create the template's tables, secrets, KMS keys, queues, log groups, event buses and
    rules with ``session`` (moto, in-process or server).

    ``secret_values`` gives each secret's JSON content by logical id.
    """
    template = template or load_template()
    stack = Stack(parameters=parameter_values(template, parameters or {}))
    dynamodb = session.client("dynamodb", region_name=REGION)
    for name, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        table_name = f"{LOCAL_STACK}-{name}"
        # Warm throughput (an Fn::If on a parameter) means nothing to moto: left out.
        wanted = {
            key: value for key, value in resource["Properties"].items() if key != "WarmThroughput"
        }
        properties = stack.resolve(wanted)
        table = dynamodb.create_table(**_table_request(table_name, properties))
        stack.physical[name] = table_name
        stack.attributes[name] = {"Arn": table["TableDescription"]["TableArn"]}
        if "LatestStreamArn" in table["TableDescription"]:
            stack.attributes[name]["StreamArn"] = table["TableDescription"]["LatestStreamArn"]
    secretsmanager = session.client("secretsmanager", region_name=REGION)
    for name in resources_of_type(template, "AWS::SecretsManager::Secret"):
        content = json.dumps(dict((secret_values or {}).get(name, {})))
        created = secretsmanager.create_secret(Name=f"{LOCAL_STACK}-{name}", SecretString=content)
        stack.physical[name] = created["ARN"]
        stack.attributes[name] = {"Arn": created["ARN"]}
    kms = session.client("kms", region_name=REGION)
    for name, resource in resources_of_type(template, "AWS::KMS::Key").items():
        key = kms.create_key(Description=str(resource["Properties"].get("Description", name)))
        # Key ids are random: the alias is how a later process attaches to the same key.
        kms.create_alias(AliasName=key_alias(name), TargetKeyId=key["KeyMetadata"]["KeyId"])
        stack.physical[name] = key["KeyMetadata"]["KeyId"]
        stack.attributes[name] = {"Arn": key["KeyMetadata"]["Arn"]}
    sqs = session.client("sqs", region_name=REGION)
    for name in resources_of_type(template, "AWS::SQS::Queue"):
        url = sqs.create_queue(QueueName=f"{LOCAL_STACK}-{name}")["QueueUrl"]
        _add_queue(stack, sqs, name, url)
    logs = session.client("logs", region_name=REGION)
    for name, resource in resources_of_type(template, "AWS::Logs::LogGroup").items():
        group = _log_group_name(stack, name, resource)
        logs.create_log_group(logGroupName=group)
        _add_log_group(stack, name, group)
    events = session.client("events", region_name=REGION)
    for name, resource in resources_of_type(template, "AWS::Events::EventBus").items():
        bus = _event_bus_name(stack, name, resource)
        arn = events.create_event_bus(Name=bus)["EventBusArn"]
        _add_event_bus(stack, name, bus, arn)
    # The rules after the buses and log groups they name; moto's EventBridge delivers to their
    # targets (log groups, queues) as EventBridge does.
    for name, resource in resources_of_type(template, "AWS::Events::Rule").items():
        _create_rule(stack, events, name, resource)
    return _named_the_rest(stack, template)


def key_alias(logical_id: str) -> str:
    """The alias the local stack gives a template KMS key (its id is random)."""
    return f"alias/{LOCAL_STACK}-{logical_id}"


class MissingResourceError(LookupError):
    """A resource of the template is not there to attach to."""


def attach_resources(
    session: Session,
    *,
    parameters: Mapping[str, str] | None = None,
    template: Mapping[str, Any] | None = None,
) -> Stack:
    """Find the template's tables, secrets, KMS keys, queues, log groups and event buses that
    ``create_resources``
    made earlier (in another process, against the same moto server), by their physical
    names; create nothing. Raises ``MissingResourceError`` if one is not there."""
    template = template or load_template()
    stack = Stack(parameters=parameter_values(template, parameters or {}))
    dynamodb = session.client("dynamodb", region_name=REGION)
    secretsmanager = session.client("secretsmanager", region_name=REGION)
    kms = session.client("kms", region_name=REGION)
    sqs = session.client("sqs", region_name=REGION)
    for name in resources_of_type(template, "AWS::DynamoDB::Table"):
        table = _existing(name, lambda n: dynamodb.describe_table(TableName=n)["Table"])
        stack.physical[name] = table["TableName"]
        stack.attributes[name] = {"Arn": table["TableArn"]}
        if "LatestStreamArn" in table:
            stack.attributes[name]["StreamArn"] = table["LatestStreamArn"]
    for name in resources_of_type(template, "AWS::SecretsManager::Secret"):
        secret = _existing(name, lambda n: secretsmanager.describe_secret(SecretId=n))
        stack.physical[name] = secret["ARN"]
        stack.attributes[name] = {"Arn": secret["ARN"]}
    for name in resources_of_type(template, "AWS::KMS::Key"):
        # By the alias create_resources gave it (key_alias: alias/<physical name>).
        key = _existing(name, lambda n: kms.describe_key(KeyId=f"alias/{n}")["KeyMetadata"])
        stack.physical[name] = key["KeyId"]
        stack.attributes[name] = {"Arn": key["Arn"]}
    for name in resources_of_type(template, "AWS::SQS::Queue"):
        url = _existing(name, lambda n: sqs.get_queue_url(QueueName=n)["QueueUrl"])
        _add_queue(stack, sqs, name, url)
    logs = session.client("logs", region_name=REGION)
    for name, resource in resources_of_type(template, "AWS::Logs::LogGroup").items():
        group = _log_group_name(stack, name, resource)
        found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        if not any(item["logGroupName"] == group for item in found):
            raise MissingResourceError(f"{name} ({group}) does not exist: nothing to attach to")
        _add_log_group(stack, name, group)
    events = session.client("events", region_name=REGION)
    for name, resource in resources_of_type(template, "AWS::Events::EventBus").items():
        bus = _event_bus_name(stack, name, resource)
        try:
            arn = events.describe_event_bus(Name=bus)["Arn"]
        except ClientError as error:
            raise MissingResourceError(
                f"{name} ({bus}) does not exist: nothing to attach to"
            ) from error
        _add_event_bus(stack, name, bus, arn)
    for name, resource in resources_of_type(template, "AWS::Events::Rule").items():
        rule, bus = _rule_names(stack, name, resource)
        try:
            arn = events.describe_rule(Name=rule, EventBusName=bus)["Arn"]
        except ClientError as error:
            raise MissingResourceError(
                f"{name} ({rule}) does not exist: nothing to attach to"
            ) from error
        stack.physical[name] = arn
        stack.attributes[name] = {"Arn": arn}
    return _named_the_rest(stack, template)


def _add_queue(stack: Stack, sqs: Any, name: str, url: str) -> None:
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    stack.physical[name] = url
    stack.attributes[name] = {"Arn": arn["Attributes"]["QueueArn"]}


def _log_group_name(stack: Stack, name: str, resource: Mapping[str, Any]) -> str:
    """The template's ``LogGroupName``, else a name of the stack's own."""
    given = resource.get("Properties", {}).get("LogGroupName")
    return str(stack.resolve(given)) if given else f"{LOCAL_STACK}-{name}"


def _add_log_group(stack: Stack, name: str, group: str) -> None:
    stack.physical[name] = group
    # As CloudFormation's GetAtt Arn: the log group's ARN with ":*" (its streams).
    stack.attributes[name] = {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"}


def _event_bus_name(stack: Stack, name: str, resource: Mapping[str, Any]) -> str:
    given = resource.get("Properties", {}).get("Name")
    return str(stack.resolve(given)) if given else f"{LOCAL_STACK}-{name}"


def _add_event_bus(stack: Stack, name: str, bus: str, arn: str) -> None:
    stack.physical[name] = bus  # Ref of an event bus is its name
    stack.attributes[name] = {"Arn": arn, "Name": bus}


def _rule_names(stack: Stack, name: str, resource: Mapping[str, Any]) -> tuple[str, str]:
    """A rule's name and its bus's, as the template resolves them locally."""
    properties = stack.resolve(resource["Properties"])
    return (
        str(properties.get("Name") or f"{LOCAL_STACK}-{name}"),
        str(properties.get("EventBusName", "default")),
    )


def _create_rule(stack: Stack, events: Any, name: str, resource: Mapping[str, Any]) -> None:
    properties = stack.resolve(resource["Properties"])
    rule, bus = _rule_names(stack, name, resource)
    arn = events.put_rule(
        Name=rule,
        EventBusName=bus,
        EventPattern=json.dumps(properties["EventPattern"]),
        State=properties.get("State", "ENABLED"),
    )["RuleArn"]
    events.put_targets(
        Rule=rule,
        EventBusName=bus,
        Targets=[{"Id": target["Id"], "Arn": target["Arn"]} for target in properties["Targets"]],
    )
    stack.physical[name] = arn
    stack.attributes[name] = {"Arn": arn}


def _named_the_rest(stack: Stack, template: Mapping[str, Any]) -> Stack:
    """Resources the local stack does not create (functions, APIs, alarms) get a name."""
    for name in template["Resources"]:
        stack.physical.setdefault(name, f"{LOCAL_STACK}-{name}")
    return stack


def _existing(logical_id: str, look_up: Callable[[str], Any]) -> Any:
    physical = f"{LOCAL_STACK}-{logical_id}"
    try:
        return look_up(physical)
    except ClientError as error:
        raise MissingResourceError(
            f"{logical_id} ({physical}) does not exist: nothing to attach to"
        ) from error


def _table_request(table_name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    if "StreamSpecification" in properties:
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            **properties["StreamSpecification"],
        }
    if "GlobalSecondaryIndexes" in properties:
        request["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    return request


@dataclass(frozen=True)
class StreamSource:
    """A ``Type: DynamoDB`` event of a function: its stream and its resolved properties
    (``BatchSize``, ``FilterCriteria``, ``MaximumRetryAttempts``, ``DestinationConfig``...)."""

    name: str
    stream_arn: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    routes: tuple[Route, ...]
    timeout: int
    stream_sources: tuple[StreamSource, ...] = ()
    # The names of its ``Type: Schedule`` events (the local stack runs them on a short period).
    schedules: tuple[str, ...] = ()

    def load_handler(self) -> Handler:
        """Import ``app.py`` of the function as Lambda would, under a module name of its own
        (every function's file is called app.py), and return its handler."""
        module_file, _, attribute = self.handler.rpartition(".")
        module = load_function_module(self.code_uri, module_file, f"cardmaker_fn_{self.logical_id}")
        return getattr(module, attribute)


def load_function_module(code_uri: Path, module_file: str, name: str) -> ModuleType:
    """Import a function's handler module (``<code_uri>/<module_file>.py``) as ``name``.

    As on Lambda, the function's folder comes first on the path while it loads, so that it
    imports its own modules by their plain names (``import problems``). Those modules are
    loaded afresh for each call and kept out of ``sys.modules``' plain names afterwards: every
    function shares this process here, and a module of one function's folder must not stand
    in for a same-named module of another (or be shared by two execution environments of one
    function)."""
    own = {path.stem for path in code_uri.glob("*.py")} | {
        path.parent.name for path in code_uri.glob("*/__init__.py")
    }

    def of_the_function(module_name: str) -> bool:
        return module_name.partition(".")[0] in own

    shadowed = {key: sys.modules.pop(key) for key in list(sys.modules) if of_the_function(key)}
    path = code_uri / f"{module_file}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(code_uri))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(code_uri))
        for key in [key for key in sys.modules if of_the_function(key)]:
            sys.modules[f"{name}.{key}"] = sys.modules.pop(key)
        sys.modules.update(shadowed)
    return module


def functions(stack: Stack, template: Mapping[str, Any] | None = None) -> dict[str, FunctionSpec]:
    """Every function of the template, with its environment resolved against ``stack``."""
    template = template or load_template()
    globals_ = template.get("Globals", {}).get("Function", {})
    specs = {}
    for name, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        properties = resource["Properties"]
        variables = {
            **globals_.get("Environment", {}).get("Variables", {}),
            **properties.get("Environment", {}).get("Variables", {}),
        }
        routes = tuple(
            Route(
                event["Properties"]["Method"].upper(),
                event["Properties"]["Path"],
                iam=event["Properties"].get("Auth", {}).get("Authorizer") != "NONE",
            )
            for event in properties.get("Events", {}).values()
            if event["Type"] == "HttpApi"
        )
        streams = tuple(
            StreamSource(event_name, stack.resolve(event["Properties"]["Stream"]), resolved)
            for event_name, event in properties.get("Events", {}).items()
            if event["Type"] == "DynamoDB"
            for resolved in [stack.resolve(dict(event["Properties"]))]
        )
        specs[name] = FunctionSpec(
            logical_id=name,
            code_uri=REPO / properties["CodeUri"],
            handler=properties["Handler"],
            environment={key: str(stack.resolve(value)) for key, value in variables.items()},
            routes=routes,
            timeout=int(properties.get("Timeout", globals_.get("Timeout", 3))),
            stream_sources=streams,
            schedules=tuple(
                event_name
                for event_name, event in properties.get("Events", {}).items()
                if event["Type"] == "Schedule"
            ),
        )
    return specs
