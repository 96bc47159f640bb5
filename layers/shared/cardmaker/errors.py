"""Every error the package raises on purpose, under one base class.

Errors say what went wrong in the business's words and nothing about who hears of it: the
edges choose the answer (the SPI function maps them to TOP ``result_code``s, the operator API
to HTTP statuses, each in one module of its own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from cardmaker.deliveries.delivery import Delivery
    from cardmaker.orders.order import StoredHeader


class CardmakerError(Exception):
    """Base class of every error this package raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# The platform's SPI call, as received ------------------------------------------------------


class SpiRefused(CardmakerError):
    """An SPI call that cannot be taken as sent: nothing is written for it."""


class InvalidSignature(SpiRefused):
    def __init__(self, message: str = "signature does not match") -> None:
        super().__init__(message)


class InvalidTimestamp(SpiRefused):
    pass


class InvalidParameter(SpiRefused):
    pass


class InvalidAppKey(SpiRefused):
    """A call for another app (or for none), even one signed with our secret."""

    def __init__(self, message: str = "app_key is not ours") -> None:
        super().__init__(message)


class InvalidMethod(SpiRefused):
    def __init__(self, method: str) -> None:
        # The method name is shown truncated: it is the caller's text, not ours.
        super().__init__(f"unsupported method {method[:64]!r}")


# The e-voucher platform's send-code notice, as received -----------------------------------


class NoticeRefused(CardmakerError):
    """A notice that is not taken: nothing is written for it."""


class NoticeUnverified(NoticeRefused):
    """Not signed with our notice secret, or its timestamp is outside the window: it may not
    come from the platform at all (answered ``{"code": 501}``)."""


class NoticeMalformed(NoticeRefused):
    """Not a notice we can read or record: a body too large or not valid in its charset, or
    a signed notice without what its method needs (``order_id``; ``token`` and ``num`` for
    ``send``). Retrying it unchanged cannot help (answered ``{"code": 400}``)."""


# Orders and deliveries ---------------------------------------------------------------------


class NotFound(CardmakerError):
    """What was asked for does not exist."""


class OrderNotFound(NotFound):
    pass


class NoticesNotFound(NotFound):
    """No notice was ever recorded for the Taobao order."""


class CardNotFound(NotFound):
    """No card has the number asked for."""


class CardNumberInvalid(CardmakerError):
    """Digits, but not a card number of this stack's scheme (length, prefix, check digit):
    the message states the rule, never the number."""


class DeliveryNotFound(NotFound):
    pass


class OrderConflict(CardmakerError):
    """An order with the same id and environment exists with other content."""


class OrderStateConflict(CardmakerError):
    """An order cannot take the step asked for from where it is (``status``), or took it
    differently (another waybill): nothing was changed."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class PageTokenInvalid(CardmakerError):
    """A ``next`` token that is not a whole token of the listing it came back to (cut,
    edited, made up, or from another environment or status filter)."""


class PlatformNoticeFailed(CardmakerError):
    """A platform notification recorded FAILED (refused, or every attempt failed): raised
    after the record, so that its stream record ends in the notifier's failure queue, where
    an operator sees it and redrives it. ``code`` is what the order records (the platform's
    code or ours, never its text)."""

    def __init__(self, notice: str, code: str | None, attempts: int) -> None:
        super().__init__(f"{notice} FAILED after {attempts} attempt(s) ({code or 'no code'})")
        self.notice = notice
        self.code = code
        self.attempts = attempts


class NotificationDeferred(CardmakerError):
    """A notification the notifier did not attempt in this batch (no attempt counted): too
    little of the function's time was left to wait for the platform. Its record fails, so
    that the stream hands it over again."""


class DeliveryRefused(CardmakerError):
    """A delivery request that is well formed but cannot be carried out; ``field`` names the
    part of the request that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class DeliveryConflict(DeliveryRefused):
    """The delivery's own id (``outer_id`` / ``out_biz_id``) is taken by another delivery."""


class AuditRefused(CardmakerError):
    """An audit entry that cannot be recorded as asked (a detail that is not a short named
    value, or whose name says it could hold a secret); ``field`` names the part. Nothing is
    written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class DeliveryStateConflict(CardmakerError):
    """A delivery cannot be cancelled from where it is (``status``: sending, or final):
    nothing was changed."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class RequesterUnknown(CardmakerError):
    """A delivery or an order's step asked for by no identified principal (no IAM identity
    came with the request): nobody could be held to it, so it is not recorded."""


class OrderExists(CardmakerError):
    """The order's key is taken (a repository's answer to an insert): ``stored`` is what is
    there, to tell a replay from a conflict."""

    def __init__(self, stored: StoredHeader) -> None:
        super().__init__("order exists")
        self.stored = stored


class DeliveryExists(CardmakerError):
    """The delivery id is taken: the stored delivery and its request's fingerprint."""

    def __init__(self, existing: Delivery, fingerprint: str) -> None:
        super().__init__("delivery exists")
        self.existing = existing
        self.fingerprint = fingerprint


# Cards and storage -------------------------------------------------------------------------


class SecretTampered(CardmakerError):
    """A sealed secret did not open: wrong key, wrong card, or altered bytes."""


class CardMissing(CardmakerError):
    """A card that was made (the order counts it) is not in the cards table: ``position``
    of ``template_no`` is the first one missing of the ``expected`` cards being read."""

    def __init__(self, template_no: str, position: int, expected: int) -> None:
        super().__init__(
            f"card {position} of template {template_no} is missing ({expected} expected)"
        )
        self.template_no = template_no
        self.position = position
        self.expected = expected


class CardVoided(CardmakerError):
    """A delivery asked for cards an e-voucher refund voided: they are never handed out
    again (nothing is sent)."""

    def __init__(self, template_no: str, positions: list[int]) -> None:
        super().__init__(
            f"{len(positions)} cards of template {template_no} are voided by a refund "
            f"(first: position {positions[0]}): they are never handed out again"
        )
        self.template_no = template_no
        self.positions = positions


class AftercareDeferred(CardmakerError):
    """A notice about a delivery that is being sent right now (a cancel while ma.send is in
    flight): acted on once the delivery has settled, when the stream retries it."""


class SequenceExhausted(CardmakerError):
    """The card-number scheme has no sequence numbers left."""


class NumberingKeyChanged(CardmakerError):
    """The card-number key is not the one the scheme's sequence counter was started with: the
    new key's numbers could repeat cards already issued, so nothing more is numbered."""


class ClaimContended(CardmakerError):
    """A claim on a template's cards lost every race for its cursor to other claims: nothing
    was claimed, and trying again later is safe."""


class UnprocessedItemsError(CardmakerError):
    """Items DynamoDB still refused after every retry."""

    def __init__(self, remaining: int) -> None:
        super().__init__(f"{remaining} items still unprocessed after retries")
        self.remaining = remaining


# Lifecycle events ---------------------------------------------------------------------------


class EventNotPublished(CardmakerError):
    """EventBridge refused a lifecycle event (``PutEvents`` counted it failed): the stream
    record is retried. The text names the event and EventBridge's error code only."""

    def __init__(self, event_id: str, error_code: str) -> None:
        super().__init__(f"event {event_id} not published: {error_code}")
        self.event_id = event_id
        self.error_code = error_code


# A print run (an order's cards for the print shop) -----------------------------------------

# Why a print run was refused: the order's cards are not all made yet, the order has no such
# template, or deliveries took every card of it.
PrintRefusal = Literal[
    "not_generated",
    "no_such_template",
    "nothing_left",
    # releasing a print run: none is claimed; its file was written; (an export) it was released
    "not_claimed",
    "printed",
    "released",
]


class PrintRefused(CardmakerError):
    """A print run that cannot be claimed (nothing is claimed); ``reason`` says why, for the
    edges that answer differently to each."""

    def __init__(self, reason: PrintRefusal, message: str) -> None:
        super().__init__(message)
        self.reason: PrintRefusal = reason


# The TOP gateway (we are the client) -------------------------------------------------------


class TopError(CardmakerError):
    """An ``error_response`` from the TOP gateway."""

    def __init__(
        self,
        code: int | None,
        msg: str,
        sub_code: str | None = None,
        sub_msg: str | None = None,
        request_id: str | None = None,
    ) -> None:
        # The text is the codes alone: the platform's messages may quote the request (card
        # secrets, the e-voucher token), and an exception's text ends up in logs and traces.
        super().__init__(f"TOP error {code}" + (f" ({sub_code})" if sub_code else ""))
        self.top_code = code
        self.msg = msg
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.request_id = request_id
        self.attempts = 1  # how many calls it took: set by the TOP client that raises it

    def describe(self) -> str:
        """The platform's codes, without its messages (which may quote the request)."""
        return f"TOP {self.top_code} {self.sub_code or ''}".strip()


class TopConfigError(CardmakerError, ValueError):
    """The client is not configured for the call asked of it (e.g. no session key)."""


class TopUnavailable(CardmakerError):
    """The gateway could not be reached, or answered the HTTP request itself with a failure
    (``status``), on every one of ``attempts`` attempts: taken as not delivered."""

    def __init__(self, method: str, attempts: int, reason: str, status: int | None = None) -> None:
        super().__init__(
            f"{method}: TOP gateway unavailable ({reason}) after {attempts} attempt(s)"
        )
        self.method = method
        self.attempts = attempts
        self.reason = reason
        self.status = status


class TopOutcomeUnknown(CardmakerError):
    """The request may have reached the gateway but no usable answer came back: the call may
    or may not have taken effect. Re-send the same request (same ids) later; never retried
    here."""

    def __init__(self, method: str, attempts: int, reason: str) -> None:
        super().__init__(
            f"{method}: {reason} on attempt {attempts}; the call may or may not have taken effect"
        )
        self.method = method
        self.attempts = attempts
        self.reason = reason


class NoticeSendUnsettled(CardmakerError):
    """A notice delivery's ma.send answered neither success nor one of the codes that end it
    (platform-apis.md §4.5): tried again (bounded), then the delivery gives up, redrivable.
    ``code`` is the answer's code as it may be recorded (never its message)."""

    def __init__(self, code: str | None) -> None:
        super().__init__(f"ma.send not settled ({code or 'no code'})")
        self.code = code


class ProductNotFound(NotFound):
    """No product is mapped to that merchant code."""
