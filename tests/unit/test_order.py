"""The order's small facts, each defined once: its label and its template lookup."""

from __future__ import annotations

from datetime import UTC, datetime

from cardmaker import CardOrderMakeRequest, Order, OrderKey, chunk_key_context
from cardmaker_cli.samples import sample_order


def test_an_order_key_is_labelled_by_environment_and_id():
    key = OrderKey("pre", 16002)
    assert key.label == "pre:16002"
    # the label is what binds a chunk's data key to its order in KMS
    assert chunk_key_context(key, "0.3") == {"card_order": "pre:16002", "chunk": "0.3"}


def test_an_order_finds_its_templates_by_number():
    request = CardOrderMakeRequest.model_validate(
        sample_order(7, templates=[("T1", 3, "100"), ("T2", 5, "5000")])
    )
    order = Order.receive(request, datetime.now(UTC))

    template = order.template("T2")
    assert template is not None
    assert (template.template_no, template.count, template.par_value) == ("T2", 5, "5000")
    assert order.template("T3") is None
