"""What a delivery records when the platform does not take its cards: the platform's codes
and our own words for them, never the platform's message text.

TOP's messages (``msg`` and ``sub_msg`` of an ``error_response``, ``ret_msg`` of ma.send,
``message`` of card.bind) are free text, and a gateway may quote the request in them: the
``isv_ka_list`` with every card's secret, the e-voucher ``token``. Whatever is recorded on a
card is stored in the deliveries table, answered by ``GET /deliveries/{id}`` and printed by
the command, so a message is never recorded, in whole or in part. Scrubbing the call's
secrets out of a message instead would have to recognise them in every form a gateway might
quote them in (JSON-escaped, URL-encoded, cut short), and a miss would leak a card.

A code is kept (an operator looks it up in TOP's documentation), but only as a code: at most
64 characters of a code's alphabet, holding no value of the call we know of (the token) and
nothing shaped like a card secret; any other is recorded as ``unreadable-code``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cardmaker.cards.card_secrets import ALPHABET, DEFAULT_LENGTH

if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_CODE_LENGTH = 64
UNREADABLE_CODE = "unreadable-code"
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
# Shorter withheld values would match codes by chance (a token "t" is in "isv.x:token").
MIN_WITHHELD_LENGTH = 6
# A run as long as the shortest card secret, of the secrets' symbols: no TOP code has one
# (theirs are dotted lowercase words), a quoted secret does.
_SECRET_SHAPED = re.compile(f"[{ALPHABET.decode()}]{{{DEFAULT_LENGTH},}}")

# Our words, per way the platform did not take the cards.
NOT_ISSUED = "the platform did not issue the cards"
NOT_BOUND = "the platform did not bind the cards"
INVALID_CARD = "the platform says the card number is invalid"
BIND_FAILED = "the platform could not bind this card"


def refused_call(top_code: int | None) -> str:
    """Our words for an ``error_response``: the call was refused, with its (numeric) code."""
    return "the platform refused the call" + (f" (TOP error {top_code})" if top_code else "")


def recorded_code(code: str | None, withheld: Iterable[str] = ()) -> str | None:
    """``code`` as it may be recorded, or ``UNREADABLE_CODE`` when it is not a plain code
    or quotes one of the ``withheld`` values of the call."""
    if code is None:
        return None
    if (
        len(code) > MAX_CODE_LENGTH
        or not _CODE.fullmatch(code)
        or _SECRET_SHAPED.search(code)
        or any(len(value) >= MIN_WITHHELD_LENGTH and value in code for value in withheld)
    ):
        return UNREADABLE_CODE
    return code


# --- a send-code notice's ma.send (platform-apis.md §4.5) -----------------------------------
# The old e-voucher docs (quoted by a public integration, confidence L-M): retry the send
# callback "until it succeeds or the sub_code is isv.eticket-order-status-error:
# invalid-order-status or isv.eticket-send-error:code-alreay-send" (sic). The first says the
# order can no longer take codes (refunded, closed): the delivery ends FAILED and is never
# sent again. The second says the codes went out already (a send whose answer was lost): the
# cards count as issued. Any other refusal is retried, bounded by the stream's attempts.
ORDER_STATUS_INVALID = "isv.eticket-order-status-error:invalid-order-status"
CODES_ALREADY_SENT = "isv.eticket-send-error:code-alreay-send"
ORDER_CANNOT_TAKE_CODES = "the platform says the order can no longer take codes"
ALREADY_SENT = "the platform says the codes were sent already"
# ma.failsend: the only reason code any source names (platform-apis.md §3.1).
FAIL_SEND_NO_STOCK = "isv.fail-send-no-stock"


def notice_send_final(code: str | None) -> bool | None:
    """What a notice's ma.send answered with ``code`` (an error's sub_code, or ret_code)
    settles: True (already sent: the cards are issued), False (impossible: the cards are
    not, and it is not retried), None (neither: try again)."""
    if code == CODES_ALREADY_SENT:
        return True
    if code == ORDER_STATUS_INVALID:
        return False
    return None
