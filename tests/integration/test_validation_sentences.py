"""The operator API's 422s through the handler: pydantic's field paths and codes for
programs, and a sentence naming the field, the rule and its bound for people, never the
value that was sent (the CLI's side: tests/cli/test_sentences.py)."""

from __future__ import annotations

import json

from local.platform import sample_delivery
from tests.conftest import delivery_post_event, order_event

SECRETISH = "s3cr3t-value-never-echoed"


def refused(invoke, event):
    answer = invoke(event)
    assert answer["statusCode"] == 422, answer
    return json.loads(answer["body"])


def test_a_bound_is_stated_as_a_sentence_with_both_ends(invoke):
    body = {**sample_delivery("bind"), "quantity": 100000}

    answer = refused(invoke, delivery_post_event(body))

    assert answer["detail"] == [
        {
            "loc": ["body", "bind", "quantity"],
            "type": "less_than_equal",
            "msg": "quantity must be between 1 and 500 for bind",
        }
    ]


def test_every_failing_field_gets_its_sentence_and_no_input_is_echoed(invoke):
    body = {
        **sample_delivery("eticket"),
        "card_order_id": SECRETISH,
        "quantity": 0,
        "extra_field": SECRETISH,
    }
    del body["template_no"]

    answer = refused(invoke, delivery_post_event(body))

    sentences = {tuple(p["loc"][1:]): p["msg"] for p in answer["detail"]}
    assert sentences[("eticket", "card_order_id")] == (
        "card_order_id must be a whole number for eticket"
    )
    assert sentences[("eticket", "quantity")].startswith("quantity must be between 1 and ")
    assert sentences[("eticket", "template_no")] == "template_no is required for eticket"
    assert sentences[("eticket", "extra_field")] == (
        "extra_field is not a field of this request for eticket"
    )
    assert SECRETISH not in json.dumps(answer)


def test_an_unknown_kind_names_the_kinds_without_echoing_it(invoke):
    answer = refused(invoke, delivery_post_event({**sample_delivery("bind"), "type": SECRETISH}))

    assert answer["detail"][0]["type"].startswith("union_tag")
    assert answer["detail"][0]["msg"] == "type must be: one of 'eticket', 'bind'"
    assert SECRETISH not in json.dumps(answer)


def test_path_and_query_parameters_get_sentences(invoke):
    answer = refused(invoke, order_event(0))
    assert answer["detail"][0]["loc"] == ["path", "card_order_id"]
    assert answer["detail"][0]["msg"].startswith("card_order_id must be ")

    answer = refused(invoke, order_event(16002, own_sign=SECRETISH))
    assert answer["detail"][0]["msg"] == "own_sign must be 'daily', 'pre' or 'online'"
    assert SECRETISH not in json.dumps(answer)
