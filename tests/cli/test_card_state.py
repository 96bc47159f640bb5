"""`cardmaker cards show` and `cardmaker cards release` against the local stack: a card
found by its number as it moves (available, printed, released, delivered), never its secret;
the print run the first-hour trap leaves behind (an export claiming every card, a later
delivery waiting for stock) released, after which a delivery gets those cards."""

from __future__ import annotations

import csv
import io

import pytest
import requests

from cardmaker import PRINT_CLAIM, DynamoDBCardRepository, OrderKey
from cardmaker_cli.samples import sample_order
from local.platform import sign_demo_call
from tests.cli.conftest import OWN_SIGN, json_output

ORDER_ID = 27400  # its own: its print run claims its template's cards
MAKING_CARD_NO = f"CM-{OWN_SIGN}-{ORDER_ID}"
TEMPLATE = "3010030E05"


@pytest.fixture(scope="module", autouse=True)
def _order(local_stack) -> None:
    call = sign_demo_call(sample_order(ORDER_ID, OWN_SIGN, [(TEMPLATE, 6, "500")]))
    answer = requests.post(
        call.url(local_stack.url), data=call.body, headers=call.headers, timeout=10
    )
    assert answer.json()["response"]["success"] is True, answer.text
    local_stack.wait_idle(60)


def test_a_card_shows_its_state_as_it_moves_and_a_print_run_is_released(cli, local_stack, tmp_path):
    # Given the template exported for print (every card claimed), its file written
    out = tmp_path / "cards.csv"
    exported = cli("cards", "export", MAKING_CARD_NO, "--template", TEMPLATE, "--out", str(out))
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    number, secret = rows[2]["card_no"], rows[2]["card_secret"]

    # When support looks a card up
    shown = cli("cards", "show", number)

    # Then it says where it stands, and never its secret
    assert shown.exit_code == 0, shown.output
    assert "PRINTED" in shown.stdout
    assert MAKING_CARD_NO in shown.stdout
    assert secret not in shown.output
    view = json_output(cli("cards", "show", number, "--json"))
    assert (view["state"], view["position"], view["print_run"]) == ("PRINTED", 2, True)
    assert secret not in str(view)

    # And a printed print run is never released
    refused = cli("cards", "release", MAKING_CARD_NO, "--template", TEMPLATE)
    assert refused.exit_code == 1
    assert "409" in refused.output
    assert "printed" in refused.output


def test_the_first_hour_trap_a_print_run_released_lets_the_waiting_delivery_go_on(cli, local_stack):
    # Given an order whose template a print run claimed (as an export does) and has not
    # printed, and a bind delivery that then waits for stock
    send = cli("platform", "send-order", "--card-order-id", "27402", "--template", "T6:4:100")
    assert send.exit_code == 0, send.output
    local_stack.wait_idle(60)
    order = f"CM-{OWN_SIGN}-27402"
    cards = DynamoDBCardRepository(
        local_stack.stack.physical["CardsTable"], local_stack.client("dynamodb")
    )
    key = OrderKey(OWN_SIGN, 27402)
    assert cards.claim_rest(key, "T6", PRINT_CLAIM, 4) == range(4)
    waiting = cli(
        "deliveries", "create", "bind", "--order", order, "--template", "T6",
        "--quantity", "2", "--out-biz-id", "B27402", "--buyer-nick", "tracey", "--json",
    )  # fmt: skip
    assert waiting.exit_code == 0, waiting.output
    delivery_id = json_output(waiting)["delivery_id"]
    local_stack.wait_idle(60)
    shown = json_output(cli("deliveries", "show", delivery_id, "--json"))
    assert shown["status"] == "WAITING_STOCK"
    first = next(cards.iter_cards(key, "T6", range(1))).card_no
    held = json_output(cli("cards", "show", first, "--json"))
    assert (held["state"], held["print_run"]) == ("ALLOCATED", True)

    # When the operator releases the print run
    released = cli("cards", "release", order, "--template", "T6")

    # Then it says what went back, and the waiting delivery goes on with those cards
    assert released.exit_code == 0, released.output
    assert "released 4 cards of T6" in released.stdout
    assert "positions 0-3" in released.stdout
    assert "1 delivery(ies) waiting for stock go on" in released.stdout
    local_stack.wait_idle(60)
    shown = json_output(cli("deliveries", "show", delivery_id, "--json"))
    assert shown["status"] == "DELIVERED", shown
    card = json_output(cli("cards", "show", first, "--json"))
    assert (card["state"], card["delivery_id"]) == ("BOUND", delivery_id)
    # and a release again finds nothing to give back
    again = cli("cards", "release", order, "--template", "T6")
    assert again.exit_code == 1
    assert "not_claimed" in again.output or "nothing to release" in again.output


@pytest.mark.parametrize(
    ("number", "code", "says"),
    [
        ("3101000000000000000", 1, "404"),  # of the scheme, but no card has it
        ("31010", 1, "422"),  # too short
        ("not-a-number", 1, "422"),
    ],
)
def test_an_unknown_or_malformed_number_is_refused_without_a_traceback(cli, number, code, says):
    result = cli("cards", "show", number)
    assert result.exit_code == code, result.output
    assert says in result.output
    assert "card_no" in result.output or "no card numbered" in result.output
    assert "Traceback" not in result.output
