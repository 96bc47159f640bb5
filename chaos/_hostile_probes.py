"""Hostile requests for every HTTP route, as hypothesis strategies.

A ``Probe`` is built at send time (so a signed call carries a fresh timestamp) and says
whether the service must refuse it: tampered signatures, parameters, bodies and timestamps,
and unsigned calls must be refused; a correctly signed call with hostile business content,
or a hostile delivery body, may be valid, and is then judged by what it wrote.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import quote, quote_plus, urlencode

from hypothesis import strategies as st

from cardmaker import (
    CARD_TEMPLATE_NEW,
    CARDORDER_MAKE,
    CARDORDER_RECEIPT,
    CARDORDER_STATUS_QUERY,
    sign_notice,
)
from cardmaker.top import format_timestamp, sign_spi, utc_now
from cardmaker_cli.samples import (
    DEMO_APP_KEY,
    DEMO_NOTICE_SECRET,
    DEMO_SECRET,
    sample_notice,
    sample_order,
)
from local.platform import sample_delivery

SPI = "POST /top/spi"
GET_ORDER = "GET /orders/{card_order_id}"
POST_DELIVERY = "POST /deliveries"
GET_DELIVERY = "GET /deliveries/{delivery_id}"
LIST_ORDERS = "GET /orders"
POST_MADE = "POST /orders/{card_order_id}/made"
POST_SHIPMENT = "POST /orders/{card_order_id}/shipment"
NOTICE = "POST /eticket/notices"
GET_NOTICES = "GET /eticket/notices/{order_id}"
ANY_ROUTE = "other method or path"

SPI_MAX_BODY_BYTES = 1024 * 1024  # the template's default SPI_MAX_BODY_BYTES
API_MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit

# Fresh order ids for signed calls, far from the ids the scenarios seed.
_ORDER_IDS = itertools.count(300_000)
# Fresh outer ids for deliveries (a reused one would answer the existing delivery).
_DELIVERY_IDS = itertools.count(1)
# Fresh waybill numbers (the first accepted one fixes the seed order's waybill).
_WAYBILLS = itertools.count(1)
# Fresh Taobao order ids for notices.
_NOTICE_ORDERS = itertools.count(900_000_000)
NOTICE_MAX_BODY_BYTES = 32 * 1024  # the notice adapter's bound


@dataclass(frozen=True)
class Request:
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


@dataclass(frozen=True)
class Probe:
    """One hostile input: ``kind`` names what was tried, for the figures."""

    kind: str
    route: str
    build: Callable[[], Request]
    must_refuse: bool


# --- signed SPI calls ---------------------------------------------------------------------


@dataclass
class SignedCall:
    """A cardorder.make call as (query pairs, headers, body), signed, then open to tampering."""

    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes

    def request(self) -> Request:
        target = "/top/spi?" + "&".join(
            f"{quote_plus(k, encoding='utf-8')}={quote_plus(v, encoding='utf-8')}"
            for k, v in self.query
        )
        return Request(
            b"POST",
            target.encode("ascii"),
            [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers],
            self.body,
        )


def signed_call(
    body_text: str,
    *,
    content_type: str = "application/json;charset=utf-8",
    charset: str = "utf-8",
    secret: str = DEMO_SECRET,
    age: timedelta = timedelta(0),
    method: str = CARDORDER_MAKE,
) -> SignedCall:
    """A call whose raw ``body_text`` is signed as the platform signs a JSON body."""
    query = {
        "method": method,
        "app_key": DEMO_APP_KEY,
        "timestamp": format_timestamp(utc_now() - age),
        "v": "2.0",
        "format": "json",
        "sign_method": "md5",
    }
    sign = sign_spi(query, body_text, secret, charset)
    return SignedCall(
        query=[*query.items(), ("sign", sign)],
        headers=[("Content-Type", content_type)],
        body=body_text.encode(charset),
    )


def fresh_order(card_order_id: int | None = None) -> dict[str, Any]:
    """The seed's order with one small template (and its Chinese card name, so that a body
    read in the wrong charset reads differently), under a fresh id."""
    order_id = next(_ORDER_IDS) if card_order_id is None else card_order_id
    return sample_order(order_id, "daily", [("T1", 2, "100")], logistics=True)


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# A tampering takes a correctly signed call and changes one thing the sign covers (or the
# sign itself): the result must be refused.
Tampering = Callable[[SignedCall], None]


def _change_char(text: str, index: int, replacement: str) -> str:
    if not text:
        return replacement
    index %= len(text)
    if text[index] == replacement:
        replacement = "x" if replacement != "x" else "y"
    return text[:index] + replacement + text[index + 1 :]


@st.composite
def tamperings(draw: st.DrawFn) -> tuple[str, Tampering]:
    """One change that a correct verification refuses, and its name."""
    index = draw(st.integers(min_value=0, max_value=10_000))
    char = draw(st.characters(codec="utf-8", exclude_characters="\r\n"))
    choice = draw(
        st.sampled_from(
            [
                "sign_char",
                "sign_missing",
                "sign_in_body",
                "param_char",
                "body_byte",
                "extra_param",
                "duplicate_param",
                "stale_timestamp",
                "future_timestamp",
                "wrong_secret",
            ]
        )
    )
    seconds = draw(st.integers(min_value=1, max_value=10**8))
    other_secret = draw(st.text(min_size=1, max_size=40).filter(lambda s: s != DEMO_SECRET))
    extra = draw(st.text(string.ascii_letters + "_", min_size=1, max_size=12))

    def tamper(call: SignedCall) -> None:
        query = call.query
        if choice == "sign_char":
            sign = dict(query)["sign"]
            changed = _change_char(sign, index, char)
            call.query = [(k, changed if k == "sign" else v) for k, v in query]
        elif choice == "sign_missing":
            call.query = [(k, v) for k, v in query if k != "sign"]
        elif choice == "sign_in_body":
            sign = dict(query)["sign"]
            call.query = [(k, v) for k, v in query if k != "sign"]
            call.body = call.body + b"&sign=" + sign.encode()
        elif choice == "param_char":
            position = index % (len(query) - 1)  # any parameter but the sign (last)
            name, value = query[position]
            query[position] = (name, _change_char(value, index // 7, char))
        elif choice == "body_byte":
            body = bytearray(call.body)
            position = index % len(body)
            body[position] = (body[position] + 1 + index % 254) % 256
            call.body = bytes(body)
        elif choice == "extra_param":
            query.insert(index % len(query), (extra, extra))
        elif choice == "duplicate_param":
            query.append(query[index % len(query)])
        elif choice in ("stale_timestamp", "future_timestamp"):
            # Signed correctly, but outside the window (300 s back, 180 s ahead).
            age = timedelta(seconds=300 + seconds if choice == "stale_timestamp" else 0)
            ahead = timedelta(seconds=180 + seconds if choice == "future_timestamp" else 0)
            body_text = call.body.decode("utf-8")
            resigned = signed_call(body_text, age=age - ahead)
            call.query, call.body = resigned.query, resigned.body
        else:  # wrong_secret
            resigned = signed_call(call.body.decode("utf-8"), secret=other_secret)
            call.query, call.body = resigned.query, resigned.body

    return choice, tamper


@st.composite
def tampered_spi_calls(draw: st.DrawFn) -> Probe:
    """A valid order, correctly signed, then tampered with: must be refused."""
    name, tamper = draw(tamperings())

    def build() -> Request:
        call = signed_call(compact(fresh_order()))
        tamper(call)
        return call.request()

    return Probe(f"spi_tampered_{name}", SPI, build, must_refuse=True)


# --- hostile values -----------------------------------------------------------------------

_NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "\ufeff",
    "\u202e",
    "1e309",
    "NaN",
    "-1",
    "0",
    "9" * 40,
    "0x10",
    "１２",  # full-width digits
    "<response><success>true</success></response>",
    "' OR '1'='1",
    "../../etc/passwd",
    "%00%FF",
    "${jndi:ldap://127.0.0.1/x}",
    "{{7*7}}",
    "A" * 5000,
]
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(_NASTY_STRINGS)
)
hostile_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _small_count(value: Any) -> bool:
    # A hostile value that happens to be a valid count must not ask for a million cards:
    # the local stack would be generating them for minutes.
    whole = _whole(value)
    return whole is None or whole <= 20


def _deep(depth: int, opener: str) -> str:
    """JSON nested ``depth`` levels deep: arrays, or objects of objects."""
    if opener == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def _json_text(value: Any, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"), allow_nan=True)


@st.composite
def hostile_orders(draw: st.DrawFn) -> tuple[str, str]:
    """(what was done, body text): an order with one field made hostile, or a body that is
    hostile as a whole (deep nesting, duplicate keys, not an object, a huge template list)."""
    how = draw(
        st.sampled_from(
            [
                "field",
                "template_field",
                "logistics_field",
                "extra_keys",
                "deep",
                "duplicate_keys",
                "not_an_object",
                "many_templates",
            ]
        )
    )
    ascii_only = draw(st.booleans())
    order = fresh_order()
    if how == "field":
        name = draw(st.sampled_from(["card_order_id", "own_sign", "card_product_infos"]))
        order[name] = draw(hostile_values)
    elif how == "template_field":
        name = draw(st.sampled_from(["template_no", "count", "par_value", "card_name", "url"]))
        value = draw(hostile_values.filter(_small_count) if name == "count" else hostile_values)
        order["card_product_infos"][0][name] = value
    elif how == "logistics_field":
        name = draw(
            st.sampled_from(
                ["receiver_zip_code", "receiver_address", "receiver_number", "receiver_name"]
            )
        )
        order["logistics_info"][name] = draw(hostile_values)
    elif how == "extra_keys":
        order.update(draw(st.dictionaries(st.text(max_size=20), hostile_values, max_size=5)))
    elif how == "deep":
        depth = draw(st.sampled_from([64, 1_000, 100_000]))
        opener = draw(st.sampled_from(["[", "{"]))
        text = _json_text(order, ascii_only)
        return how, text[:-1] + ',"card_product_infos":' + _deep(depth, opener) + "}"
    elif how == "duplicate_keys":
        # Which of two card_order_ids is meant? JSON parsers disagree; the text is signed.
        other = draw(st.integers(min_value=1, max_value=2**63))
        text = _json_text(order, ascii_only)
        return how, text[:-1] + f',"card_order_id":{other}}}'
    elif how == "not_an_object":
        return how, _json_text(draw(hostile_values), ascii_only)
    else:  # many_templates: over the per-order bounds, each template tiny
        count = draw(st.sampled_from([1_000, 5_000]))
        order["card_product_infos"] = [
            {"template_no": f"T{n}", "count": 1, "par_value": "1", "card_name": "x"}
            for n in range(count)
        ]
    return how, _json_text(order, ascii_only)


@st.composite
def signed_hostile_orders(draw: st.DrawFn) -> Probe:
    """Correctly signed, hostile content: may be valid, judged by what it writes."""
    how, text = draw(hostile_orders())
    deep = how == "deep"
    return Probe(f"spi_signed_{how}", SPI, lambda: signed_call(text).request(), must_refuse=deep)


# The platform's lifecycle calls, correctly signed with hostile content. SEED_ORDER-like
# ids are drawn too, so that a hostile-but-valid receipt or status query meets a real order.
_LIFECYCLE_METHODS = {
    "status_query": CARDORDER_STATUS_QUERY,
    "template_new": CARD_TEMPLATE_NEW,
    "receipt": CARDORDER_RECEIPT,
}
_TEMPLATE = {
    "template_no": "T1",
    "card_name": "猫超储值卡面额100",
    "par_value": "100",
    "picture_url": "https://img.alicdn.com/card/T1.png",
    "is_test": False,
    "own_sign": "daily",
}


@st.composite
def hostile_lifecycle_calls(draw: st.DrawFn) -> tuple[str, str, str]:
    """(what was done, method, body text): one of status.query, template.new, receipt with a
    field made hostile, or a body hostile as a whole."""
    which = draw(st.sampled_from(sorted(_LIFECYCLE_METHODS)))
    method = _LIFECYCLE_METHODS[which]
    how = draw(st.sampled_from(["field", "extra_keys", "deep", "duplicate_keys", "not_object"]))
    ascii_only = draw(st.booleans())
    reference: dict[str, Any] = {
        "card_order_id": draw(st.sampled_from([16002, next(_ORDER_IDS)])),
        "own_sign": "daily",
    }
    business: dict[str, Any] = dict(_TEMPLATE) if which == "template_new" else dict(reference)
    if how == "field":
        business[draw(st.sampled_from(sorted(business)))] = draw(hostile_values)
    elif how == "extra_keys":
        business.update(draw(st.dictionaries(st.text(max_size=20), hostile_values, max_size=5)))
    elif how == "deep":
        depth = draw(st.sampled_from([64, 1_000, 100_000]))
        text = _json_text(business, ascii_only)
        field_name = "request" if which == "status_query" else "own_sign"
        nested = _deep(depth, draw(st.sampled_from(["[", "{"])))
        return f"{which}_{how}", method, text[:-1] + f',"{field_name}":' + nested + "}"
    elif how == "duplicate_keys":
        text = _json_text(business, ascii_only)
        other = draw(st.integers(min_value=1, max_value=2**63))
        return f"{which}_{how}", method, text[:-1] + f',"card_order_id":{other}}}'
    else:
        return f"{which}_{how}", method, _json_text(draw(hostile_values), ascii_only)
    if which == "status_query" and draw(st.booleans()):
        business = {"request": business}  # the struct nested, as TOP may send it
    return f"{which}_{how}", method, _json_text(business, ascii_only)


@st.composite
def signed_hostile_lifecycle_calls(draw: st.DrawFn) -> Probe:
    """Correctly signed lifecycle calls with hostile content: judged by what they write."""
    kind, method, text = draw(hostile_lifecycle_calls())
    deep = kind.endswith("_deep")
    return Probe(
        f"spi_signed_{kind}",
        SPI,
        lambda: signed_call(text, method=method).request(),
        must_refuse=deep,
    )


# --- unsigned and malformed requests ------------------------------------------------------

_header_names = st.text(string.ascii_letters + string.digits + "-_.!#$%&'*+^`|~", min_size=1)
_header_values = st.binary(max_size=200).map(
    lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"").strip()
)
hostile_headers = st.lists(
    st.tuples(_header_names.map(str.encode), _header_values).filter(
        lambda h: h[0].lower() not in (b"content-length", b"transfer-encoding", b"host")
    )
    | st.tuples(
        st.sampled_from([b"Content-Type", b"content-type", b"Content-Encoding", b"top-sign-list"]),
        st.sampled_from(
            [
                b"application/json",
                b"application/json;charset=gbk",
                b"application/json;charset=utf-16",
                b'application/json; charset="x"',
                b"application/x-www-form-urlencoded;charset=gb18030",
                b"text/xml;charset=latin-1",
                b"multipart/form-data; boundary=x",
                b"gzip",
                b"method,timestamp,sign",
                b"\xff\xfe\x00",
                b"",
            ]
        ),
    ),
    max_size=6,
)
_query_pieces = st.sampled_from(
    [
        "method=" + quote_plus(CARDORDER_MAKE),
        "method=x",
        "app_key=" + DEMO_APP_KEY,
        "sign=" + "0" * 32,
        "sign=",
        "timestamp=2026-11-22+20%3A30%3A00",
        "timestamp=%FF%FE",
        "format=xml",
        "format=json",
        "format=%00",
        "own_sign=daily",
        "own_sign=online",
        "own_sign=%C0%AE",
        "=",
        "&&",
        "a=b=c",
        "%",
        "%zz",
        "card_order_id=1",
        "card_product_infos=%5B%5D",
    ]
)
hostile_queries = st.one_of(
    st.lists(_query_pieces, max_size=8).map(lambda parts: "&".join(parts).encode()),
    st.binary(max_size=120).map(
        # Raw bytes in the request line, but never ones that end it.
        lambda raw: bytes(b for b in raw if b not in b" \r\n#")
    ),
)
hostile_bodies = st.one_of(
    st.binary(max_size=400),
    hostile_values.map(lambda v: _json_text(v, False).encode("utf-8")),
    st.sampled_from([64, 10_000, 200_000]).flatmap(
        lambda depth: st.sampled_from(["[", "{"]).map(lambda o: _deep(depth, o).encode())
    ),
    st.just(gzip.compress(compact(sample_order()).encode())),
    st.just(compact(sample_order()).encode("utf-16")),
    st.just(b"\xef\xbb\xbf" + compact(sample_order()).encode()),
    st.just(compact(sample_order()).encode("gbk")),
)


@st.composite
def unsigned_spi_calls(draw: st.DrawFn) -> Probe:
    """No valid sign can be guessed: every one must be refused."""
    query, headers, body = draw(hostile_queries), draw(hostile_headers), draw(hostile_bodies)
    request = Request(b"POST", b"/top/spi?" + query, headers, body)
    return Probe("spi_unsigned", SPI, lambda: request, must_refuse=True)


_path_segments = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: str(n).encode()),
    st.text(max_size=80).map(lambda t: quote(t, safe="").encode()),
    st.binary(min_size=1, max_size=60).map(lambda raw: bytes(b for b in raw if b > 0x20)),
    st.sampled_from(
        [
            b"16002",
            b"%31%36%30%30%32",
            b"0",
            b"-1",
            b"9223372036854775808",
            b"1e3",
            b"..%2F..%2Fsecret",
            b"%00",
            b"%FF",
            b"ET-0123",
            b"BD-" + b"a" * 200,
            b"x" * 5000,
        ]
    ),
).filter(bool)


@st.composite
def hostile_lookups(draw: st.DrawFn) -> Probe:
    """GET /orders/{id} or GET /deliveries/{id} with a hostile id, query and headers:
    reads, so nothing may ever be written."""
    route = draw(st.sampled_from([GET_ORDER, GET_DELIVERY]))
    prefix = b"/orders/" if route == GET_ORDER else b"/deliveries/"
    segment, query = draw(_path_segments), draw(hostile_queries)
    request = Request(b"GET", prefix + segment + b"?" + query, draw(hostile_headers))
    return Probe("lookup", route, lambda: request, must_refuse=False)


@st.composite
def hostile_deliveries(draw: st.DrawFn) -> tuple[str, bytes, list[tuple[bytes, bytes]]]:
    """(what was done, body, headers) for POST /deliveries."""
    kind: Literal["eticket", "bind"] = draw(st.sampled_from(["eticket", "bind"]))
    how = draw(
        st.sampled_from(
            ["field", "extra_keys", "duplicate_keys", "encoding", "content_type", "raw"]
        )
    )
    body = sample_delivery(kind, card_order_id=16002, template_no="T1", quantity=1)
    id_field = "outer_id" if kind == "eticket" else "out_biz_id"
    body[id_field] = f"hostile-{next(_DELIVERY_IDS)}"
    headers = [(b"Content-Type", b"application/json")]
    if how == "field":
        name = draw(st.sampled_from(sorted(body)))
        body[name] = draw(
            hostile_values.filter(_small_count) if name == "quantity" else hostile_values
        )
    elif how == "extra_keys":
        body.update(draw(st.dictionaries(st.text(max_size=20), hostile_values, max_size=5)))
    elif how == "duplicate_keys":
        text = compact(body)[:-1] + ',"quantity":100000,"type":"bind"}'
        return how, text.encode(), headers
    elif how == "encoding":
        encoding = draw(st.sampled_from(["utf-16", "utf-32", "gbk", "latin-1"]))
        body["buyer_nick" if kind == "bind" else "token"] = "买家"
        return how, compact(body).encode(encoding, errors="replace"), headers
    elif how == "content_type":
        headers = draw(hostile_headers)
    else:
        return how, draw(hostile_bodies), headers
    return how, _json_text(body, draw(st.booleans())).encode("utf-8"), headers


@st.composite
def hostile_delivery_posts(draw: st.DrawFn) -> Probe:
    how, body, headers = draw(hostile_deliveries())
    request = Request(b"POST", b"/deliveries", headers, body)
    return Probe(f"delivery_{how}", POST_DELIVERY, lambda: request, must_refuse=False)


def _forged_token(content: Any) -> str:
    """A ``next`` token in the list's shape (checksum, then JSON) with a wrong checksum."""
    raw = b"\x00" * 8 + json.dumps(content).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_list_values = st.one_of(
    st.sampled_from(
        ["daily", "pre", "online", "GENERATED", "MADE", "made", "1", "100", "101", "0", "-1"]
    ),
    st.text(max_size=100),
    st.binary(max_size=300).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    st.just(
        _forged_token(
            {
                "v": 1,
                "own_sign": "daily",
                "status": None,
                "received_at": "2026-01-01T00:00:00",
                "card_order_id": 16002,
            }
        )
    ),
    st.just("A" * 5000),
)


@st.composite
def hostile_listings(draw: st.DrawFn) -> Probe:
    """GET /orders with hostile own_sign, status, limit and next (tokens forged, cut, huge)
    and headers: a read, so nothing may ever be written."""
    params = draw(
        st.dictionaries(st.sampled_from(["own_sign", "status", "limit", "next"]), _list_values)
    )
    query = urlencode(params).encode() if params else draw(hostile_queries)
    request = Request(b"GET", b"/orders?" + query, draw(hostile_headers))
    return Probe("listing", LIST_ORDERS, lambda: request, must_refuse=False)


@st.composite
def hostile_order_steps(draw: st.DrawFn) -> Probe:
    """POST /orders/{id}/made and /shipment: hostile ids, queries, waybills and bodies, or the
    seed order's own step (accepted once, then a repeat: the same answer, no write)."""
    step = draw(st.sampled_from(["made", "shipment"]))
    segment = draw(st.one_of(st.just(b"16002"), _path_segments))
    query = draw(st.one_of(st.just(b"own_sign=daily"), hostile_queries))
    headers = [(b"Content-Type", b"application/json")]
    body = b""
    how = "plain"
    if step == "shipment":
        waybill: dict[str, Any] = {
            "logistics_company": "顺丰速运",
            "logistics_order_id": f"SF{next(_WAYBILLS)}",
        }
        how = draw(st.sampled_from(["valid", "field", "extra_keys", "content_type", "raw"]))
        if how == "field":
            waybill[draw(st.sampled_from(sorted(waybill)))] = draw(hostile_values)
        elif how == "extra_keys":
            waybill.update(draw(st.dictionaries(st.text(max_size=20), hostile_values, max_size=5)))
        elif how == "content_type":
            headers = draw(hostile_headers)
        body = draw(hostile_bodies) if how == "raw" else _json_text(waybill, False).encode()
    route = POST_MADE if step == "made" else POST_SHIPMENT
    request = Request(b"POST", b"/orders/" + segment + b"/" + step.encode() + b"?" + query,
                      headers, body)  # fmt: skip
    return Probe(f"step_{step}_{how}", route, lambda: request, must_refuse=False)


@st.composite
def other_routes(draw: st.DrawFn) -> Probe:
    """Methods and paths no route has: answered by the gateway, no function runs."""
    method = draw(st.sampled_from([b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"GET", b"HEAD"]))
    path = draw(
        st.sampled_from(
            [
                b"/top/spi",
                b"/top/spi/",
                b"//top/spi",
                b"/TOP/SPI",
                b"/orders",
                b"/orders/1/x",
                b"/deliveries",
                b"/deliveries/%2e%2e",
                b"/../etc/passwd",
                b"/%00",
                b"*",
            ]
        )
    )
    if method == b"GET" and path in (b"/orders", b"/deliveries"):
        path += b"/"
    request = Request(method, path, draw(hostile_headers), draw(hostile_bodies))
    return Probe("other_route", ANY_ROUTE, lambda: request, must_refuse=True)


def fixed_probes() -> list[Probe]:
    """The inputs random generation would rarely hit: payloads at and over the limits."""
    order = compact(fresh_order())
    padded = order[:-1] + ',"pad":"' + "x" * SPI_MAX_BODY_BYTES + '"}'
    return [
        *notice_fixed_probes(),
        # Signed, but one byte over the SPI body limit (refused before anything else).
        Probe("oversized_spi_signed", SPI, lambda: signed_call(padded).request(), True),
        # Over API Gateway's 10 MiB: the gateway answers 413, no function runs.
        Probe(
            "oversized_10mib",
            SPI,
            lambda: Request(
                b"POST",
                b"/top/spi",
                [(b"Content-Type", b"application/json")],
                b"[" * (API_MAX_BODY_BYTES + 1),
            ),
            True,
        ),
        Probe(
            "oversized_10mib",
            POST_DELIVERY,
            lambda: Request(
                b"POST",
                b"/deliveries",
                [(b"Content-Type", b"application/json")],
                b" " * (API_MAX_BODY_BYTES + 1),
            ),
            True,
        ),
    ]


# --- send-code notices (POST /eticket/notices) --------------------------------------------


@dataclass
class SignedNotice:
    """A notice as (parameters in order, charset), signed, then open to tampering."""

    pairs: list[tuple[str, str]]
    charset: str = "gbk"
    content_type: str = "application/x-www-form-urlencoded; charset=GBK"

    def request(self) -> Request:
        body = "&".join(
            f"{quote_plus(k, encoding=self.charset, errors='replace')}="
            f"{quote_plus(v, encoding=self.charset, errors='replace')}"
            for k, v in self.pairs
        )
        return Request(
            b"POST",
            b"/eticket/notices",
            [(b"Content-Type", self.content_type.encode("latin-1"))],
            body.encode("ascii"),
        )


def signed_notice_call(
    parameters: dict[str, str],
    *,
    secret: str = DEMO_NOTICE_SECRET,
    age: timedelta = timedelta(0),
    charset: str = "gbk",
) -> SignedNotice:
    """``parameters`` timestamped and signed as the platform signs a notice (GBK)."""
    stamped = {"timestamp": format_timestamp(utc_now() - age), **parameters}
    try:
        sign = sign_notice(stamped, secret)
    except ValueError:  # a value GBK cannot hold: the platform could not have signed it
        sign = "0" * 32
    return SignedNotice(
        [*stamped.items(), ("sign", sign)],
        charset,
        f"application/x-www-form-urlencoded; charset={charset.upper()}",
    )


def fresh_notice(method: str = "send") -> dict[str, str]:
    """The sample notice (Chinese values included) for a fresh Taobao order."""
    return sample_notice(method, str(next(_NOTICE_ORDERS)), token="hostile-token")


@st.composite
def tampered_notices(draw: st.DrawFn) -> Probe:
    """A valid notice, correctly signed, then changed where the sign covers it (or signed
    with another key, or outside the window): must be refused, nothing written."""
    index = draw(st.integers(min_value=0, max_value=10_000))
    char = draw(st.characters(codec="gbk", exclude_characters="\r\n"))
    choice = draw(
        st.sampled_from(
            [
                "sign_char",
                "sign_missing",
                "param_char",
                "extra_param",
                "param_dropped",
                "stale_timestamp",
                "future_timestamp",
                "wrong_secret",
                "utf8_bytes_gbk_label",
            ]
        )
    )
    seconds = draw(st.integers(min_value=1, max_value=10**8))
    other_secret = draw(st.text(min_size=1, max_size=40).filter(lambda s: s != DEMO_NOTICE_SECRET))
    method = draw(st.sampled_from(["send", "resend", "cancel", "modified", "order_modify"]))

    def build() -> Request:
        notice = fresh_notice(method)
        if choice == "stale_timestamp":
            return signed_notice_call(notice, age=timedelta(seconds=600 + seconds)).request()
        if choice == "future_timestamp":
            return signed_notice_call(notice, age=-timedelta(seconds=600 + seconds)).request()
        if choice == "wrong_secret":
            return signed_notice_call(notice, secret=other_secret).request()
        call = signed_notice_call(notice)
        pairs = call.pairs
        if choice == "sign_char":
            changed = _change_char(pairs[-1][1], index, char)
            if changed.upper() == pairs[-1][1].upper():  # signs compare case-insensitively
                changed = _change_char(pairs[-1][1], index, "x")
            pairs[-1] = ("sign", changed)
        elif choice == "sign_missing":
            pairs.pop()
        elif choice == "param_char":
            position = index % (len(pairs) - 1)
            name, value = pairs[position]
            pairs[position] = (name, _change_char(value, index // 7, char))
        elif choice == "extra_param":
            pairs.insert(index % len(pairs), ("extra_field", "x"))
        elif choice == "param_dropped":
            pairs.pop(index % (len(pairs) - 1))
        else:  # utf8_bytes_gbk_label: the same text in UTF-8 under a GBK label
            call.charset = "utf-8"
        return call.request()

    return Probe(f"notice_tampered_{choice}", NOTICE, build, must_refuse=True)


@st.composite
def signed_hostile_notices(draw: st.DrawFn) -> Probe:
    """Correctly signed notices with hostile content: a hostile method, order id, token,
    num or extra parameter. Recorded (then a replay must change nothing) or refused (with
    nothing written); never a 5xx."""
    method = draw(
        st.sampled_from(["send", "resend", "cancel", "modified", "order_modify", "heartBeatCheck"])
        | st.text(max_size=20)
    )
    field_name = draw(st.sampled_from(["order_id", "token", "num", "sub_outer_iid", "extra"]))
    value = draw(st.text(max_size=60) | st.sampled_from(_NASTY_STRINGS))
    charset = draw(st.sampled_from(["gbk", "utf-8"]))

    def build() -> Request:
        notice = fresh_notice()
        notice["method"] = method
        if field_name == "extra":
            notice["x_hostile"] = value
        elif field_name == "num":
            # a valid count stays small: it may become a delivery once fulfilment runs
            notice["num"] = value if not value.strip().isdigit() else "1"
        else:
            notice[field_name] = value
        return signed_notice_call(notice, charset=charset).request()

    return Probe(f"notice_signed_hostile_{field_name}", NOTICE, build, must_refuse=False)


@st.composite
def unsigned_notices(draw: st.DrawFn) -> Probe:
    """Hostile bodies, headers and charsets with no valid sign: every one refused."""
    headers, body = draw(hostile_headers), draw(hostile_bodies)
    request = Request(b"POST", b"/eticket/notices", headers, body)
    return Probe("notice_unsigned", NOTICE, lambda: request, must_refuse=True)


@st.composite
def hostile_notice_lookups(draw: st.DrawFn) -> Probe:
    """GET /eticket/notices/{order_id} with a hostile id: a read, nothing written."""
    segment, query = draw(_path_segments), draw(hostile_queries)
    request = Request(b"GET", b"/eticket/notices/" + segment + b"?" + query, draw(hostile_headers))
    return Probe("notice_lookup", GET_NOTICES, lambda: request, must_refuse=False)


def notice_fixed_probes() -> list[Probe]:
    """Notices random generation would rarely build: over the size bound, signed; a send
    without its token or quantity, signed; a body that is not valid GBK."""

    def oversized() -> Request:
        notice = {**fresh_notice(), "sms_template": "x" * NOTICE_MAX_BODY_BYTES}
        return signed_notice_call(notice).request()

    def without(name: str) -> Callable[[], Request]:
        def build() -> Request:
            notice = {k: v for k, v in fresh_notice().items() if k != name}
            return signed_notice_call(notice).request()

        return build

    def not_gbk() -> Request:
        call = signed_notice_call(fresh_notice())
        request = call.request()
        return Request(request.method, request.target, request.headers, request.body + b"%FF")

    return [
        Probe("notice_oversized_signed", NOTICE, oversized, True),
        Probe("notice_send_without_token", NOTICE, without("token"), True),
        Probe("notice_send_without_num", NOTICE, without("num"), True),
        Probe("notice_without_order_id", NOTICE, without("order_id"), True),
        Probe("notice_not_gbk", NOTICE, not_gbk, True),
    ]


# Every strategy, by the name the scenario reports it under.
STRATEGIES: dict[str, st.SearchStrategy[Probe]] = {
    "spi_tampered": tampered_spi_calls(),
    "spi_signed_hostile": signed_hostile_orders(),
    "spi_lifecycle_hostile": signed_hostile_lifecycle_calls(),
    "spi_unsigned": unsigned_spi_calls(),
    "lookups": hostile_lookups(),
    "delivery_posts": hostile_delivery_posts(),
    "listings": hostile_listings(),
    "order_steps": hostile_order_steps(),
    "other_routes": other_routes(),
    "notice_tampered": tampered_notices(),
    "notice_signed_hostile": signed_hostile_notices(),
    "notice_unsigned": unsigned_notices(),
    "notice_lookups": hostile_notice_lookups(),
}
