"""``PUT /eticket/products/{merchant_code}``, ``GET /eticket/products`` and ``GET
/eticket/products/{merchant_code}``: which stock of cards a send-code notice for an item's
merchant code is served from."""

# No `from __future__ import annotations`: Powertools reads the routes' annotations at runtime.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from caller import put_on_record

from cardmaker import (
    EXAMPLE_MERCHANT_CODE,
    EXAMPLE_PRODUCT,
    IAM,
    AuditAction,
    MerchantCode,
    NotFoundAnswer,
    ProblemAnswer,
    ProductList,
    ProductMapped,
    ProductMapping,
    ProductView,
    answer_body,
    json_content,
    logger,
    runtime,
    tracer,
)

router = Router()

_CODE_DESCRIPTION = "The item's merchant code: sub_outer_iid, else outer_iid"


@router.put(
    "/eticket/products/<merchant_code>",
    summary="Map an item's merchant code to a stock of cards",
    description="IAM-authorized (SigV4). The send-code notices for this merchant code are "
    "served from the remaining cards of template_no over the own_sign environment's "
    "generated orders, oldest order first. Mapping again replaces the mapping (deliveries "
    "already resolved keep theirs); the notice deliveries waiting for this mapping go on at "
    "once. Nothing is written on a 422.",
    tags=["eticket"],
    security=IAM,
    responses={
        200: {"description": "Mapped", "content": json_content(ProductMapped)},
        415: {
            "description": "The body is not application/json",
            "content": json_content(ProblemAnswer),
        },
        422: {
            "description": "Invalid (the failing fields)",
            "content": json_content(ProblemAnswer),
        },
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def put_product(
    merchant_code: Annotated[
        MerchantCode,
        Path(
            description=_CODE_DESCRIPTION,
            openapi_examples={"gift": {"value": EXAMPLE_MERCHANT_CODE}},
        ),
    ],
    mapping: Annotated[
        ProductMapping,
        Body(
            openapi_examples={"card": {"summary": "Card number + secret", "value": EXAMPLE_PRODUCT}}
        ),
    ],
) -> dict[str, Any]:
    logger.append_keys(merchant_code=merchant_code)
    mapped = runtime.product_catalogue().map(merchant_code, mapping)
    logger.info("product mapped", woken=len(mapped.woken))
    put_on_record(
        router.current_event.raw_event,
        AuditAction.PRODUCT_MAPPED,
        merchant_code,
        details={
            "own_sign": mapping.own_sign,
            "template_no": mapping.template_no,
            "woken": len(mapped.woken),
        },
    )
    return answer_body(ProductMapped.of_mapped(mapped))


@router.get(
    "/eticket/products",
    summary="List the products",
    description="IAM-authorized (SigV4). Every mapped merchant code and its stock.",
    tags=["eticket"],
    security=IAM,
    responses={200: {"description": "The products", "content": json_content(ProductList)}},
)
@tracer.capture_method(capture_response=False, capture_error=False)
def list_products() -> dict[str, Any]:
    return answer_body(ProductList.of(runtime.product_catalogue().list()))


@router.get(
    "/eticket/products/<merchant_code>",
    summary="Read a product",
    description="IAM-authorized (SigV4). The stock a merchant code's notices are served from.",
    tags=["eticket"],
    security=IAM,
    responses={
        200: {"description": "The product", "content": json_content(ProductView)},
        404: {"description": "Not mapped", "content": json_content(NotFoundAnswer)},
        422: {"description": "Not a merchant code", "content": json_content(ProblemAnswer)},
    },
)
@tracer.capture_method(capture_response=False, capture_error=False)
def get_product(
    merchant_code: Annotated[
        MerchantCode,
        Path(
            description=_CODE_DESCRIPTION,
            openapi_examples={"gift": {"value": EXAMPLE_MERCHANT_CODE}},
        ),
    ],
) -> dict[str, Any]:
    logger.append_keys(merchant_code=merchant_code)
    return answer_body(ProductView.of(runtime.product_catalogue().get(merchant_code)))
