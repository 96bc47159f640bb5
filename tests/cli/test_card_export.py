"""`cardmaker cards export`: a generated order's cards, secrets in clear, read from the local
stack's DynamoDB and KMS; written owner-only, never over an existing file, never half."""

from __future__ import annotations

import csv
import io
import os
import stat

import pytest
import pyzipper
import requests

from cardmaker import DynamoDBCardRepository, OrderKey, Sealer
from cardmaker.store import card_schema, from_item, to_item
from cardmaker_cli.samples import sample_order
from local.platform import sign_demo_call
from tests.cli.conftest import OWN_SIGN, TEMPLATES, json_output

# An order of the export tests' own: an export claims its template's cards for print, which
# the other tests' deliveries from the shared order must not meet.
ORDER_ID = 26300
MAKING_CARD_NO = f"CM-{OWN_SIGN}-{ORDER_ID}"
PASSWORD = "correct horse battery staple"
COLUMNS = ["template_no", "par_value", "position", "card_no", "card_secret"]


@pytest.fixture(scope="module", autouse=True)
def _export_order(local_stack) -> None:
    call = sign_demo_call(sample_order(ORDER_ID, OWN_SIGN, TEMPLATES))
    url = call.url(local_stack.url)
    answer = requests.post(url, data=call.body, headers=call.headers, timeout=10)
    assert answer.json()["response"]["success"] is True, answer.text
    local_stack.wait_idle(60)


def read_rows(text: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, "no rows"
    assert list(rows[0]) == COLUMNS
    return rows


def send_generated_order(cli, local_stack, card_order_id: int, template: str) -> None:
    sent = cli(
        "platform", "send-order", "--card-order-id", str(card_order_id), "--template", template
    )
    assert sent.exit_code == 0, sent.output
    local_stack.wait_idle(60)


def test_export_writes_every_card_with_its_secret_owner_only(cli, local_stack, tmp_path):
    out = tmp_path / "cards.csv"

    result = cli("cards", "export", MAKING_CARD_NO, "--template", "3010030E02", "--out", str(out))

    assert result.exit_code == 0, result.output
    assert f"wrote 1203 cards of 3010030E02 ({MAKING_CARD_NO})" in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = read_rows(out.read_text(encoding="utf-8"))
    # every generated card, in position order, across the 1,000-card partitions
    assert [int(row["position"]) for row in rows] == list(range(1203))
    assert {row["template_no"] for row in rows} == {"3010030E02"}
    assert {row["par_value"] for row in rows} == {"100"}
    assert len({row["card_no"] for row in rows}) == 1203
    # each secret is the one sealed for its card: opened here independently of the command
    cards = DynamoDBCardRepository(
        local_stack.stack.physical["CardsTable"], local_stack.client("dynamodb")
    )
    kms = local_stack.client("kms")
    order = OrderKey(OWN_SIGN, ORDER_ID)
    for position in (0, 999, 1000, 1202):
        (card,) = cards.read_cards(order, "3010030E02", range(position, position + 1))
        data_key = kms.decrypt(
            CiphertextBlob=cards.wrapped_chunk_key(order, card.chunk_id),
            EncryptionContext={"card_order": f"{OWN_SIGN}:{ORDER_ID}", "chunk": card.chunk_id},
        )["Plaintext"]
        secret = Sealer(data_key).open(card.card_no, card.sealed_secret)
        assert card.position == position
        assert rows[position]["card_no"] == card.card_no
        assert rows[position]["card_secret"] == secret
    # nothing else is left in the directory (no temporary file)
    assert os.listdir(tmp_path) == ["cards.csv"]
    assert rows[0]["card_secret"] not in result.output


def test_a_print_run_never_shares_a_card_with_a_delivery(cli, local_stack, tmp_path):
    # Given an order of 30 cards, 2 of them already sent to a buyer's e-voucher order
    send_generated_order(cli, local_stack, 26310, "3010030E02:30:100")
    order = "CM-daily-26310"
    delivered = cli(
        "deliveries", "create", "eticket", "--order", order, "--template", "3010030E02",
        "--quantity", "2", "--outer-id", "CLI-PRINT-ET", "--token", "tok", "--wait", "--json",
    )  # fmt: skip
    assert delivered.exit_code == 0, delivered.output
    sent_cards = {card["card_no"] for card in json_output(delivered)["cards"]}
    assert len(sent_cards) == 2

    # When the template is exported for print
    out = tmp_path / "cards.csv"
    result = cli("cards", "export", order, "--template", "3010030E02", "--out", str(out))

    # Then the file holds the other 28 cards, and says why two are missing
    assert result.exit_code == 0, result.output
    assert "wrote 28 cards" in result.stdout
    assert "the first 2 of its 30 cards were handed out by deliveries" in result.stdout
    rows = read_rows(out.read_text(encoding="utf-8"))
    assert [int(row["position"]) for row in rows] == list(range(2, 30))
    assert sent_cards.isdisjoint(row["card_no"] for row in rows)

    # And a delivery asked for afterwards finds no stock: printed cards are never handed out
    later = cli(
        "deliveries", "create", "bind", "--order", order, "--template", "3010030E02",
        "--quantity", "1", "--out-biz-id", "CLI-PRINT-BD", "--buyer-nick", "tracey_05", "--json",
    )  # fmt: skip
    assert later.exit_code == 0, later.output
    local_stack.wait_idle(60)
    shown = cli("deliveries", "show", json_output(later)["delivery_id"], "--json")
    assert json_output(shown)["status"] == "WAITING_STOCK"

    # And exporting again writes exactly the same cards
    again = tmp_path / "again.csv"
    repeat = cli("cards", "export", order, "--template", "3010030E02", "--out", str(again))
    assert repeat.exit_code == 0, repeat.output
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_an_export_leaves_out_voided_cards_and_says_so(cli, local_stack, tmp_path):
    # Given an order of 5 cards, one of them voided by an e-voucher refund
    send_generated_order(cli, local_stack, 26320, "3010030E02:5:100")
    cards = DynamoDBCardRepository(
        local_stack.stack.physical["CardsTable"], local_stack.client("dynamodb")
    )
    cards.void_cards(OrderKey(OWN_SIGN, 26320), "3010030E02", [2], "2026-11-30T00:00:00Z")

    # When the template is exported for print
    out = tmp_path / "cards.csv"
    result = cli("cards", "export", "CM-daily-26320", "--template", "3010030E02", "--out", str(out))

    # Then the voided card is not in the file, and the command says why
    assert result.exit_code == 0, result.output
    assert "wrote 4 cards" in result.stdout
    assert "1 of the print run's cards were voided by e-voucher refunds" in result.stdout
    rows = read_rows(out.read_text(encoding="utf-8"))
    assert [int(row["position"]) for row in rows] == [0, 1, 3, 4]


def test_nothing_to_print_when_deliveries_took_every_card(cli, local_stack, tmp_path):
    # Given an order of 2 cards, both bound to a user
    send_generated_order(cli, local_stack, 26311, "3010030E02:2:100")
    bound = cli(
        "deliveries", "create", "bind", "--order", "CM-daily-26311", "--template", "3010030E02",
        "--quantity", "2", "--out-biz-id", "CLI-ALL-BD", "--buyer-nick", "tracey_05", "--wait",
    )  # fmt: skip
    assert bound.exit_code == 0, bound.output

    # When the template is exported, Then the command says there is nothing left to print
    out = tmp_path / "cards.csv"
    result = cli("cards", "export", "CM-daily-26311", "--template", "3010030E02", "--out", str(out))
    assert result.exit_code == 1
    assert "all 2 cards of template 3010030E02 were handed out by deliveries" in result.stderr
    assert not out.exists()


def test_export_refuses_to_overwrite_and_leaves_the_file_untouched(cli, tmp_path):
    out = tmp_path / "cards.csv"
    out.write_text("precious\n", encoding="utf-8")

    result = cli("cards", "export", MAKING_CARD_NO, "--template", "3010030E05", "--out", str(out))

    assert result.exit_code == 1
    assert "already exists: not overwriting it" in result.stderr
    assert out.read_text(encoding="utf-8") == "precious\n"
    assert os.listdir(tmp_path) == ["cards.csv"]


def test_export_to_an_aes_zip_opens_with_the_right_password_only(cli, tmp_path):
    archive = tmp_path / "cards.zip"

    result = cli(
        "cards", "export", MAKING_CARD_NO, "--template", "3010030E05",
        "--encrypt-to", str(archive), env={"CARDMAKER_EXPORT_PASSWORD": PASSWORD},
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["cards.zip"]  # no clear CSV anywhere
    with pyzipper.AESZipFile(archive) as opened:
        (entry,) = opened.infolist()
        assert entry.filename == f"{MAKING_CARD_NO}-3010030E05.csv"
        with pytest.raises(RuntimeError):  # encrypted: nothing opens without a password
            opened.read(entry.filename)
        opened.setpassword(b"wrong password, sorry")
        with pytest.raises(RuntimeError):
            opened.read(entry.filename)
        opened.setpassword(PASSWORD.encode())
        rows = read_rows(opened.read(entry.filename).decode("utf-8"))
    assert [row["position"] for row in rows] == [str(position) for position in range(7)]
    assert all(len(row["card_secret"]) == 16 for row in rows)


def test_the_archive_password_is_asked_twice_when_not_in_the_environment(cli, tmp_path):
    archive = tmp_path / "cards.zip"

    result = cli(
        "cards", "export", MAKING_CARD_NO, "--template", "3010030E05",
        "--encrypt-to", str(archive), input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input
    with pyzipper.AESZipFile(archive) as opened:
        opened.setpassword(PASSWORD.encode())
        assert len(read_rows(opened.read(opened.namelist()[0]).decode("utf-8"))) == 7


def test_an_export_that_cannot_write_claims_no_card(cli, local_stack, tmp_path):
    # Given a generated order no one has exported or delivered from
    send_generated_order(cli, local_stack, 26312, "3010030E05:3:5000")
    archive = tmp_path / "cards.zip"

    # When the export is refused for a short password, or cannot create its file
    short = cli(
        "cards", "export", "CM-daily-26312", "--template", "3010030E05",
        "--encrypt-to", str(archive), env={"CARDMAKER_EXPORT_PASSWORD": "short"},
    )  # fmt: skip
    nowhere = tmp_path / "no-such-folder" / "cards.csv"
    unwritable = cli(
        "cards", "export", "CM-daily-26312", "--template", "3010030E05", "--out", str(nowhere)
    )

    # Then each says why, writes nothing, and the cards stay free for deliveries
    assert short.exit_code == 1
    assert "at least 12 characters" in short.stderr
    assert unwritable.exit_code == 1
    assert "cannot create a file in" in unwritable.stderr
    assert os.listdir(tmp_path) == []
    cursor = local_stack.client("dynamodb").get_item(
        TableName=local_stack.stack.physical["CardsTable"],
        Key=card_schema.cursor_key(OrderKey(OWN_SIGN, 26312), "3010030E05"),
        ConsistentRead=True,
    )
    assert "Item" not in cursor  # no claim was ever made


def test_only_a_generated_order_is_exported(cli, local_stack, tmp_path):
    # Given an order whose generation has not finished (its header says GENERATING)
    send_generated_order(cli, local_stack, 26201, "T-SLOW:2")
    local_stack.client("dynamodb").update_item(
        TableName=local_stack.stack.physical["OrdersTable"],
        Key={"pk": {"S": "ORDER#daily#26201"}, "sk": {"S": "ORDER"}},
        UpdateExpression="SET #status = :generating",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":generating": {"S": "GENERATING"}},
    )
    out = tmp_path / "cards.csv"

    result = cli("cards", "export", "CM-daily-26201", "--template", "T-SLOW", "--out", str(out))

    assert result.exit_code == 1
    assert "is GENERATING, not GENERATED: 2 of its 2 cards are made" in result.stderr
    assert not out.exists()


def test_an_unknown_template_or_order_is_a_message(cli, tmp_path):
    out = tmp_path / "cards.csv"

    unknown_template = cli(
        "cards", "export", MAKING_CARD_NO, "--template", "NOPE", "--out", str(out)
    )
    unknown_order = cli("cards", "export", "CM-pre-424242", "--template", "NOPE", "--out", str(out))

    assert unknown_template.exit_code == 1
    assert "has no template NOPE (3010030E02, 3010030E05)" in unknown_template.stderr
    assert unknown_order.exit_code == 1
    assert "order CM-pre-424242 does not exist" in unknown_order.stderr
    assert not out.exists()


def test_out_or_encrypt_to_exactly_one(cli, tmp_path):
    neither = cli("cards", "export", MAKING_CARD_NO, "--template", "3010030E05")
    both = cli(
        "cards", "export", MAKING_CARD_NO, "--template", "3010030E05",
        "--out", str(tmp_path / "a.csv"), "--encrypt-to", str(tmp_path / "a.zip"),
    )  # fmt: skip

    assert neither.exit_code == both.exit_code == 2
    assert "exactly one of --out and --encrypt-to" in neither.output
    assert os.listdir(tmp_path) == []


def test_a_failure_midway_leaves_no_file_behind(cli, local_stack, tmp_path):
    # Given an order of which one card has gone missing from the table
    send_generated_order(cli, local_stack, 26202, "T-GAP:5")
    local_stack.client("dynamodb").delete_item(
        TableName=local_stack.stack.physical["CardsTable"],
        Key={"pk": {"S": "CARD#daily#26202#T-GAP#0"}, "sk": {"S": "0000002"}},
    )
    out = tmp_path / "cards.csv"

    result = cli("cards", "export", "CM-daily-26202", "--template", "T-GAP", "--out", str(out))

    # Then the export fails after writing two rows, and neither the file nor its
    # temporary twin remains
    assert result.exit_code == 1
    assert "card 2 of template T-GAP is missing (5 expected): nothing was written" in result.stderr
    assert os.listdir(tmp_path) == []


def test_a_secret_that_does_not_open_stops_the_export(cli, local_stack, tmp_path):
    # Given an order of which one card's sealed secret was altered in the table
    send_generated_order(cli, local_stack, 26203, "T-TAMPER:5")
    table = local_stack.stack.physical["CardsTable"]
    dynamodb = local_stack.client("dynamodb")
    key = card_schema.card_key(OrderKey(OWN_SIGN, 26203), "T-TAMPER", 3)
    card = from_item(dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"])
    altered = bytes([card["secret"][0] ^ 1]) + card["secret"][1:]
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET secret = :altered",
        ExpressionAttributeValues=to_item({":altered": altered}),
    )
    out = tmp_path / "cards.csv"

    result = cli("cards", "export", "CM-daily-26203", "--template", "T-TAMPER", "--out", str(out))

    # Then the export names the card, and leaves no file behind
    assert result.exit_code == 1
    expected = f"the secret of card 3 ({card['card_no']}) does not open: nothing was written"
    assert expected in result.stderr
    assert os.listdir(tmp_path) == []


def _cursor(local_stack, card_order_id, template_no):
    """The template's allocation cursor as stored (None: no claim was ever made)."""
    return (
        local_stack.client("dynamodb")
        .get_item(
            TableName=local_stack.stack.physical["CardsTable"],
            Key=card_schema.cursor_key(OrderKey(OWN_SIGN, card_order_id), template_no),
            ConsistentRead=True,
        )
        .get("Item")
    )


def test_a_dry_run_says_what_the_export_would_claim_and_claims_nothing(cli, local_stack, tmp_path):
    # Given an order of 7 cards, 2 of them bound to a buyer
    send_generated_order(cli, local_stack, 26330, "3010030E05:7:5000")
    order = "CM-daily-26330"
    bound = cli(
        "deliveries", "create", "bind", "--order", order, "--template", "3010030E05",
        "--quantity", "2", "--out-biz-id", "CLI-DRY-BD", "--buyer-nick", "tracey_05", "--wait",
    )  # fmt: skip
    assert bound.exit_code == 0, bound.output
    out = tmp_path / "cards.csv"

    # When the export is tried with --dry-run
    dry = cli("cards", "export", order, "--template", "3010030E05", "--out", str(out), "--dry-run")

    # Then it says which cards it would claim and what deliveries would have left
    assert dry.exit_code == 0, dry.output
    said = " ".join(dry.stdout.split())
    assert f"claims 5 cards (positions 2-6) of template 3010030E05 ({order})" in said
    assert "the first 2 of its 7 cards are held by deliveries" in said
    assert "those cards can no longer be delivered" in said
    assert "will have 0 cards left (now 5)" in said
    assert "dry run: nothing was claimed and nothing was written" in said
    # And nothing is written: no file, the cursor where the bind left it, no print claim
    assert os.listdir(tmp_path) == []
    assert _cursor(local_stack, 26330, "3010030E05")["allocated"] == {"N": "2"}
    # And a delivery can still take the cards the dry run named
    more = cli(
        "deliveries", "create", "bind", "--order", order, "--template", "3010030E05",
        "--quantity", "5", "--out-biz-id", "CLI-DRY-BD2", "--buyer-nick", "tracey_05", "--wait",
    )  # fmt: skip
    assert more.exit_code == 0, more.output


def test_a_dry_run_needs_no_file_and_refuses_as_the_export_would(cli, local_stack, tmp_path):
    send_generated_order(cli, local_stack, 26331, "3010030E05:3:5000")

    dry = cli("cards", "export", "CM-daily-26331", "--template", "3010030E05", "--dry-run")
    unknown = cli("cards", "export", "CM-daily-26331", "--template", "NOPE", "--dry-run")

    assert dry.exit_code == 0, dry.output
    assert "claims 3 cards (positions 0-2)" in dry.stdout
    assert unknown.exit_code == 1
    assert "has no template NOPE" in unknown.stderr
    assert _cursor(local_stack, 26331, "3010030E05") is None
    assert os.listdir(tmp_path) == []


@pytest.fixture
def on_a_terminal(monkeypatch):
    """stdin as an operator's terminal (CliRunner's stdin is never one)."""
    monkeypatch.setattr("cardmaker_cli.cards.stdin_is_terminal", lambda: True)


def test_on_a_terminal_the_export_asks_first_and_no_claims_nothing(
    cli, local_stack, tmp_path, on_a_terminal
):
    send_generated_order(cli, local_stack, 26332, "3010030E05:4:5000")
    out = tmp_path / "cards.csv"

    declined = cli(
        "cards", "export", "CM-daily-26332", "--template", "3010030E05", "--out", str(out),
        input="n\n",
    )  # fmt: skip

    assert declined.exit_code == 1
    assert "claims 4 cards (positions 0-3)" in declined.stderr
    assert "claim these cards for print?" in declined.stderr
    assert "not exported: nothing was claimed and nothing was written" in declined.stderr
    assert _cursor(local_stack, 26332, "3010030E05") is None
    assert os.listdir(tmp_path) == []

    accepted = cli(
        "cards", "export", "CM-daily-26332", "--template", "3010030E05", "--out", str(out),
        input="y\n",
    )  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert "wrote 4 cards" in accepted.stdout
    assert _cursor(local_stack, 26332, "3010030E05")["allocated"] == {"N": "4"}


def test_yes_claims_without_asking_and_an_export_again_asks_nothing(
    cli, local_stack, tmp_path, on_a_terminal
):
    send_generated_order(cli, local_stack, 26333, "3010030E05:2:5000")

    first = cli(
        "cards", "export", "CM-daily-26333", "--template", "3010030E05",
        "--out", str(tmp_path / "a.csv"), "--yes",
    )  # fmt: skip
    # exporting again claims nothing more: it says so and does not ask
    again = cli(
        "cards", "export", "CM-daily-26333", "--template", "3010030E05",
        "--out", str(tmp_path / "b.csv"),
    )  # fmt: skip

    assert first.exit_code == 0, first.output
    assert "claim these cards for print?" not in first.stderr
    assert again.exit_code == 0, again.output
    assert "claim these cards for print?" not in again.stderr
    assert "already holds 2 cards (positions 0-1)" in " ".join(again.stderr.split())
    assert "claims nothing more" in again.stderr
