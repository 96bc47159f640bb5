"""The cardorder.make request model, field by field per the seed document."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from cardmaker import CardOrderMakeRequest
from cardmaker.orders.models import MAX_CARDS_PER_ORDER
from cardmaker.orders.order import content_hash
from cardmaker_cli.samples import sample_order


def valid(**changes):
    order = sample_order(logistics=True)
    order["card_product_infos"][0]["picture_url"] = "http://www.taobao.com/1.jpg"
    order.update(changes)
    return order


def test_the_seed_example_is_valid():
    request = CardOrderMakeRequest.model_validate(valid())
    assert request.card_order_id == 16002
    assert request.card_product_infos[0].par_value == "100"
    assert request.logistics_info.receiver_name == "张三"


def test_struct_parameters_may_arrive_as_json_strings():
    nested = valid()
    as_form = {
        "card_order_id": "16002",
        "own_sign": "daily",
        "card_product_infos": json.dumps(nested["card_product_infos"], ensure_ascii=False),
        "logistics_info": json.dumps(nested["logistics_info"], ensure_ascii=False),
    }
    from_form = CardOrderMakeRequest.model_validate(as_form)
    assert from_form == CardOrderMakeRequest.model_validate(nested)
    assert content_hash(from_form) == content_hash(CardOrderMakeRequest.model_validate(nested))


def test_picture_url_is_kept_exactly_as_sent():
    order = valid()
    order["card_product_infos"][0]["picture_url"] = "https://img.example.com"
    request = CardOrderMakeRequest.model_validate(order)
    assert request.card_product_infos[0].picture_url == "https://img.example.com"


def test_empty_logistics_field_means_absent():
    assert CardOrderMakeRequest.model_validate(valid(logistics_info="")).logistics_info is None


def test_content_hash_ignores_key_order_and_unknown_fields():
    order = valid()
    reordered = dict(reversed(list(order.items())))
    reordered["unknown_field"] = "x"
    assert content_hash(CardOrderMakeRequest.model_validate(order)) == content_hash(
        CardOrderMakeRequest.model_validate(reordered)
    )
    other = valid()
    other["card_product_infos"][0]["count"] = 501
    assert content_hash(CardOrderMakeRequest.model_validate(other)) != content_hash(
        CardOrderMakeRequest.model_validate(order)
    )


def template(**changes):
    info = {"template_no": "T1", "card_name": "卡", "count": 1, "par_value": "100"}
    info.update(changes)
    return info


def many_templates(n, count=1):
    return [template(template_no=f"T{i}", count=count) for i in range(n)]


INVALID = {
    "missing card_order_id": ({"card_order_id": None}, "card_order_id"),
    "zero card_order_id": ({"card_order_id": 0}, "card_order_id"),
    "negative card_order_id": ({"card_order_id": "-5"}, "card_order_id"),
    "boolean card_order_id": ({"card_order_id": True}, "card_order_id"),
    "float card_order_id": ({"card_order_id": 16002.5}, "card_order_id"),
    "card_order_id beyond a Java long": ({"card_order_id": 2**63}, "card_order_id"),
    "unknown own_sign": ({"own_sign": "prod"}, "own_sign"),
    "missing own_sign": ({"own_sign": None}, "own_sign"),
    "no templates": ({"card_product_infos": []}, "card_product_infos"),
    "templates not a list": ({"card_product_infos": {"template_no": "T1"}}, "card_product_infos"),
    "templates not JSON": ({"card_product_infos": "[{"}, "card_product_infos"),
    "1000 templates": ({"card_product_infos": many_templates(1000)}, "card_product_infos"),
    "duplicate template_no": (
        {"card_product_infos": [template(), template()]},
        "card_product_infos",
    ),
    "missing template_no": ({"card_product_infos": [template(template_no=None)]}, "template_no"),
    "template_no with a slash": (
        {"card_product_infos": [template(template_no="A/B")]},
        "template_no",
    ),
    "template_no too long": (
        {"card_product_infos": [template(template_no="A" * 65)]},
        "template_no",
    ),
    "missing card_name": ({"card_product_infos": [template(card_name=None)]}, "card_name"),
    "blank card_name": ({"card_product_infos": [template(card_name="   ")]}, "card_name"),
    "card_name too long": ({"card_product_infos": [template(card_name="卡" * 129)]}, "card_name"),
    "zero count": ({"card_product_infos": [template(count=0)]}, "count"),
    "count as text with a sign": ({"card_product_infos": [template(count="+5")]}, "count"),
    "count beyond the per-template limit": (
        {"card_product_infos": [template(count=1_000_001)]},
        "count",
    ),
    "total beyond the order limit": ({"card_product_infos": many_templates(3, 1_000_000)}, "order"),
    "par_value with a decimal point": (
        {"card_product_infos": [template(par_value="1.00")]},
        "par_value",
    ),
    "par_value as a number": ({"card_product_infos": [template(par_value=100)]}, "par_value"),
    "par_value zero": ({"card_product_infos": [template(par_value="0")]}, "par_value"),
    "par_value with leading zero": (
        {"card_product_infos": [template(par_value="0100")]},
        "par_value",
    ),
    "missing par_value": ({"card_product_infos": [template(par_value=None)]}, "par_value"),
    "picture_url not a URL": (
        {"card_product_infos": [template(picture_url="not a url")]},
        "picture_url",
    ),
    "picture_url not http": (
        {"card_product_infos": [template(picture_url="ftp://x/1.jpg")]},
        "picture_url",
    ),
    "picture_url too long": (
        {"card_product_infos": [template(picture_url="http://x.com/" + "a" * 1100)]},
        "picture_url",
    ),
    "logistics without receiver_name": (
        {
            "logistics_info": {
                "receiver_number": "1",
                "receiver_address": "a",
                "receiver_zip_code": "1",
            }
        },
        "receiver_name",
    ),
    "logistics with a blank address": (
        {
            "logistics_info": {
                "receiver_name": "张三",
                "receiver_number": "1",
                "receiver_address": " ",
                "receiver_zip_code": "1",
            }
        },
        "receiver_address",
    ),
    "logistics not an object": ({"logistics_info": "[1, 2]"}, "logistics_info"),
}

# Control characters reach operators' terminals raw: every class is refused in every text
# field of the order (C0 with DEL, C1, and the bidi controls that reorder what is shown).
CONTROL_CHARACTERS = {
    "NUL": "\x00",
    "ESC": "\x1b",
    "newline": "\n",
    "DEL": "\x7f",
    "C1 NEL": "\x85",
    "C1 CSI": "\x9b",
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "right-to-left isolate": "\u2067",
    "pop directional isolate": "\u2069",
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "Arabic letter mark": "\u061c",
}


def _receiver(**changes):
    return {"logistics_info": {**valid()["logistics_info"], **changes}}


_TEXT_FIELDS = {
    "card_name": lambda text: {"card_product_infos": [template(card_name=f"卡{text}100")]},
    "template_no": lambda text: {"card_product_infos": [template(template_no=f"T{text}1")]},
    "picture_url": lambda text: {
        "card_product_infos": [template(picture_url=f"http://x.com/{text}1.jpg")]
    },
    "receiver_name": lambda text: _receiver(receiver_name=f"张{text}三"),
    "receiver_number": lambda text: _receiver(receiver_number=f"155{text}12345678"),
    "receiver_address": lambda text: _receiver(receiver_address=f"浙江省{text}杭州市"),
    "receiver_zip_code": lambda text: _receiver(receiver_zip_code=f"31{text}0000"),
}
for _field, _change in _TEXT_FIELDS.items():
    for _name, _character in CONTROL_CHARACTERS.items():
        INVALID[f"{_name} in {_field}"] = (_change(_character), _field)


def invalid_order(changes):
    """A valid order with ``changes`` applied; a None value removes the field."""
    order = valid(**{key: value for key, value in changes.items() if value is not None})
    for key, value in changes.items():
        if value is None:
            order.pop(key)
    if "card_product_infos" in changes and isinstance(changes["card_product_infos"], list):
        order["card_product_infos"] = [
            {name: value for name, value in info.items() if value is not None}
            for info in changes["card_product_infos"]
        ]
    return order


@pytest.mark.parametrize(("changes", "field"), INVALID.values(), ids=INVALID.keys())
def test_invalid_fields_are_refused(changes, field):
    order = invalid_order(changes)
    with pytest.raises(ValidationError) as refused:
        CardOrderMakeRequest.model_validate(order)
    locations = [
        ".".join(str(part) for part in error["loc"]) or "order" for error in refused.value.errors()
    ]
    assert any(field in location for location in locations), locations


def test_limits_admit_the_largest_legitimate_order():
    order = valid(card_product_infos=many_templates(999, MAX_CARDS_PER_ORDER // 999))
    assert CardOrderMakeRequest.model_validate(order).card_count <= MAX_CARDS_PER_ORDER
