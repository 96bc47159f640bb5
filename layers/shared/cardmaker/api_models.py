"""The HTTP API's OpenAPI document, the parts every route shares: the API's description,
servers and security scheme, and the answer shapes of 404, 409 and 422.

Each answer shape is defined once, by its model: the handlers build their answers from these
models (``answer_body``) and the OpenAPI document is generated from the same models, so an
answer cannot drift from its description.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

API_DESCRIPTION = """\
The card maker's back office for Tmall supermarket stored-value cards.

- `POST /top/spi` is the platform's entry point (`alibaba.fundplatform.cardorder.make`,
  `cardorder.status.query`, `card.template.new`, `cardorder.receipt`). It is public on AWS
  and protected by the TOP signature: every outcome, refusals included, is an HTTP 200 TOP
  answer `{"response": {...}}` (XML `<response>` with `format=xml`), except an
  internal failure (HTTP 500, `SYSTEM_ERROR`), which the platform retries.
- Every other route is for operators and is IAM-authorized on AWS: requests are signed with
  AWS Signature Version 4 (service `execute-api`), and API Gateway refuses unsigned or
  unauthorized ones (403) before the function runs.
- API Gateway itself also answers 400 for a malformed HTTP request, 404 for an unknown route,
  413 for a body over its limit, 429 when the route's throttling limit is reached and 5xx when
  the function fails; those are not listed per route.

The local stack (`make serve`) plays API Gateway on 127.0.0.1 without checking SigV4: any
request reaches the function there.
"""

SIGV4 = "sigv4"
# The routes that need a SigV4-signed request (every one but /top/spi).
IAM: list[dict[str, list[str]]] = [{SIGV4: []}]

# Plain dicts rather than Powertools' OpenAPI models: the resolver validates them only when
# it generates the document, and importing those models would add ~50 ms to every cold start.
SECURITY_SCHEMES: dict[str, Any] = {
    # API Gateway's own way of writing "IAM authorization" in OpenAPI: the SigV4 signature
    # travels in the Authorization header (with X-Amz-Date, X-Amz-Security-Token).
    SIGV4: {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "AWS Signature Version 4 (IAM), service execute-api. Not checked by "
        "the local stack.",
        "x-amazon-apigateway-authtype": "awsSigv4",
    }
}

API_SERVERS: list[Any] = [
    {
        "url": "https://{api_id}.execute-api.{region}.amazonaws.com",
        "description": "The deployed stack (its ApiUrl output)",
        "variables": {
            "api_id": {"default": "abcdef1234", "description": "The HttpApi's id"},
            "region": {"default": "us-east-1"},
        },
    },
    {"url": "http://127.0.0.1:3000", "description": "make serve (no SigV4 checked)"},
]

API_TAGS: list[Any] = [
    {"name": "platform", "description": "Called by Alibaba's fund platform (TOP SPI)"},
    {"name": "orders", "description": "Orders as received and generated"},
    {"name": "deliveries", "description": "Handing cards to buyers through TOP"},
    {"name": "eticket", "description": "E-voucher send-code notices (发码通知) and products"},
    {"name": "audit", "description": "The operators' actions on record: who did what, when"},
    {"name": "cards", "description": "A card looked up by its number; a print run released"},
    {"name": "operations", "description": "What waits for an operator (failures to redrive)"},
]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def left_out(description: str) -> Any:
    """A field the answer leaves out (rather than sending ``null``) when there is nothing to
    say; annotate it ``T | SkipJsonSchema[None]`` so the document shows only ``T``."""
    return Field(
        default=None, description=description, exclude_if=_is_none, json_schema_extra=_no_default
    )


def _is_none(value: Any) -> bool:
    return value is None


def answer_body(answer: BaseModel) -> dict[str, Any]:
    """An answer model as the JSON body it is sent as: wire names, and the fields it leaves
    out when empty left out (never ``null``)."""
    return answer.model_dump(mode="json", by_alias=True)


class NotFoundAnswer(BaseModel):
    """404: what was looked up does not exist."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="Which order or delivery does not exist")


class Problem(BaseModel):
    """One failing field of a refused request."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str | int] = Field(
        description="Where the problem is: `body`, `path` or `query`, then the field"
    )
    type: str = Field(
        description="The kind of problem (pydantic's error type; `refused` for a request that "
        "is well formed but cannot be carried out)"
    )
    msg: str | SkipJsonSchema[None] = left_out(
        "Why, as a sentence: the field, the rule and its bound (`quantity must be between 1 "
        "and 500 for bind`), never the value that was sent"
    )


class ProblemAnswer(BaseModel):
    """409 / 422: the failing fields and why, never the values that were sent."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    status_code: int = Field(alias="statusCode", description="The HTTP status, repeated")
    detail: list[Problem]

    @classmethod
    def refusal(
        cls,
        status: int,
        kind: str,
        message: str,
        *,
        field: str | None = None,
        where: str = "body",
    ) -> ProblemAnswer:
        """A refusal the service words itself, in the shape of the resolver's own 422s: where
        in the request (the body, or one of its fields; ``where="query"`` for a query
        parameter), and why."""
        location: list[str | int] = [where] if field is None else [where, field]
        return cls(status_code=status, detail=[Problem(loc=location, type=kind, msg=message)])


def json_content(model: type[BaseModel]) -> dict[str, Any]:
    """A route's ``responses`` content: a JSON answer of ``model``."""
    return {"application/json": {"model": model}}
