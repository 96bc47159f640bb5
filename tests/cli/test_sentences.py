"""The API's validation errors as the CLI prints them: the sentence (field, rule, bound),
not pydantic's code."""

from __future__ import annotations

from tests.cli.conftest import ORDER_ID


def test_a_refused_quantity_is_a_sentence_with_its_bounds(cli):
    result = cli(
        "deliveries", "create", "bind", "--order", str(ORDER_ID), "--template", "3010030E02",
        "--quantity", "100000", "--out-biz-id", "PO-SENTENCE-1", "--buyer-nick", "tb_buyer",
    )  # fmt: skip

    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert message == (
        "error: the API refused the request (422): quantity must be between 1 and 500 for bind"
    )
