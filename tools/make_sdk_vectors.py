"""Generate tests/data/sdk-vectors.json and tests/data/java-whitespace.json from the official
TOP SDKs' own code. Run once by hand (never by ``make test``); the tests only read its output.

The SDKs' code is never committed to this project: point the script at checkouts of their
public sources and it compiles / loads them from there::

    python tools/make_sdk_vectors.py \\
        --java-sdk DIR      # a tree holding com/taobao/api/... (the Java SDK's src/main/java)
        --node-sdk DIR      # the official Node SDK (topSdk: lib/api/topClient.js)
        --python-sdk DIR    # a folder holding the official Python 3 SDK's package topsdk/
        [--source NAME=REPO@COMMIT ...]   # recorded as where each checkout came from

It needs ``java``/``javac`` (17 or later) and ``node``/``npm``; it installs the npm package
``node-taobao-topclient`` (the one the issue names) into a temporary folder. Every input is
written here, below, and recorded next to its sign in the output; the cases cover md5 / hmac /
hmac-sha256 requests, blank values character by character (Java's ``Character.isWhitespace``
against Python's ``str.isspace``), SPI calls with JSON and form bodies, GBK, ``+`` and ``%20``
spaces, ``top-sign-list`` headers and the SPI parsing edge cases of ``SpiUtils``.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HARNESS = Path(__file__).resolve().parent / "sdk_vectors"
VECTORS = ROOT / "tests" / "data" / "sdk-vectors.json"
WHITESPACE = ROOT / "tests" / "data" / "java-whitespace.json"
NODE_PACKAGE = "node-taobao-topclient@0.1.7"

SECRET = "demo-secret-2026"  # noqa: S105 (the published test vectors' secret)
CARD_ORDER = (
    '[{"template_no":"3010030E02","count":500,"par_value":"100","card_name":"猫超储值卡面额100"}]'
)
LOGISTICS = (
    '{"receiver_zip_code":"310000","receiver_address":"浙江省-杭州市-余杭区-五常街道文一西路969号'
    '1号楼小邮局","receiver_number":"15512345678","receiver_name":"张三"}'
)
BIND_DTO = (
    '{"top_app_key":"-103","out_biz_id":"243FC389EDACDFB9CF0BFC6D1443C97F",'
    '"card_no_s":"3101790202036006151","card_bind_user_nick":"tracey_05"}'
)
# Characters whose "blankness" matters: every one either Java or Python calls whitespace.
JAVA_OR_PYTHON_BLANK = sorted(
    {*range(0x09, 0x0E), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680, 0x180E, *range(0x2000, 0x200C)}
    | {0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF}
)


def _run(args: list[str], **options: Any) -> subprocess.CompletedProcess[Any]:
    """Run a tool found on PATH (java, javac, node, npm) with arguments built here."""
    return subprocess.run(args, **options)  # noqa: S603, PLW1510 (check passed by every caller)


def _b64(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(data).decode("ascii")


# --- the inputs -----------------------------------------------------------------------------


def request_cases() -> list[dict[str, Any]]:
    """Outbound requests: id, sign_method, secret, params."""
    base = {
        "app_key": "12345678",
        "format": "json",
        "method": "taobao.time.get",
        "timestamp": "2016-01-01 12:00:00",
        "v": "2.0",
    }
    bind = {
        "app_key": "12345678",
        "format": "json",
        "method": "tmall.purchase.card.bind",
        "timestamp": "2026-11-22 20:30:00",
        "v": "2.0",
        "card_bind_req_dto": BIND_DTO,
    }
    cases: list[dict[str, Any]] = []
    for method in ("md5", "hmac", "hmac-sha256"):
        cases.append(
            {
                "id": f"time-get-{method}",
                "sign_method": method,
                "secret": "helloworld",
                "params": {**base, "sign_method": method},
            }
        )
        cases.append(
            {
                "id": f"card-bind-{method}",
                "sign_method": method,
                "secret": SECRET,
                "params": {**bind, "sign_method": method, "session": "6100e2f0abc"},
            }
        )
        cases.append(
            {
                "id": f"spaces-and-signs-{method}",
                "sign_method": method,
                "secret": SECRET,
                "params": {
                    **base,
                    "sign_method": method,
                    "outer_id": " a+b%20c=d&e ",  # signed raw: never URL-decoded or trimmed
                    "token": "x y",
                    "epoch": "1700000000000",
                },
            }
        )
        cases.append(
            {
                "id": f"empty-values-{method}",
                "sign_method": method,
                "secret": SECRET,
                "params": {**base, "sign_method": method, "session": "", "partner_id": "   "},
            }
        )
    for point in JAVA_OR_PYTHON_BLANK:
        char = chr(point)
        for shape, value in (("alone", char), ("twice", char * 2), ("with-space", " " + char)):
            cases.append(
                {
                    "id": f"blank-value-U+{point:04X}-{shape}",
                    "sign_method": "hmac-sha256",
                    "secret": SECRET,
                    "params": {**base, "sign_method": "hmac-sha256", "partner_id": value},
                }
            )
        cases.append(
            {
                "id": f"blank-key-U+{point:04X}",
                "sign_method": "md5",
                "secret": SECRET,
                "params": {**base, "sign_method": "md5", char: "x"},
            }
        )
    return cases


SPI_QUERY = (
    "method=alibaba.fundplatform.cardorder.make&app_key=12345678"
    "&timestamp=2026-11-22+20%3A30%3A00&v=2.0&format=json&sign_method=md5&sign=SIGN"
)


def _form(pairs: list[tuple[str, str]], charset: str = "utf-8") -> bytes:
    from urllib.parse import quote_plus  # noqa: PLC0415

    return "&".join(
        f"{quote_plus(k, encoding=charset)}={quote_plus(v, encoding=charset)}" for k, v in pairs
    ).encode("ascii")


def spi_cases() -> list[dict[str, Any]]:
    """SPI calls as sent: id, content type, raw query (``sign=SIGN`` a placeholder), body,
    headers."""
    json_body = '{"card_order_id":16002,"own_sign":"daily","card_product_infos":' + CARD_ORDER + "}"
    form_pairs = [
        ("card_order_id", "16002"),
        ("own_sign", "daily"),
        ("card_product_infos", CARD_ORDER),
        ("logistics_info", LOGISTICS),
    ]
    json_type = "application/json;charset=utf-8"
    form_type = "application/x-www-form-urlencoded;charset=utf-8"
    base_form = _form(form_pairs)
    cases: list[dict[str, Any]] = [
        {"id": "json", "content_type": json_type, "query": SPI_QUERY, "body": json_body},
        {
            "id": "json-timestamp-%20",
            "content_type": json_type,
            "query": SPI_QUERY.replace("+", "%20"),
            "body": json_body,
        },
        {
            "id": "json-gbk",
            "content_type": "application/json;charset=GBK",
            "query": SPI_QUERY,
            "body": json_body,
            "charset": "gbk",
        },
        {
            "id": "json-signed-headers",
            "content_type": json_type,
            "query": SPI_QUERY,
            "body": json_body,
            "headers": {
                "top-sign-list": "x-ca-region,x-request-tag,x-absent",
                "x-ca-region": "cn%2Dhangzhou+east",
                "x-request-tag": "%E7%8C%AB%E8%B6%85",
            },
        },
        {
            "id": "json-signed-header-blank",
            "content_type": json_type,
            "query": SPI_QUERY,
            "body": json_body,
            "headers": {"top-sign-list": "x-request-tag", "x-request-tag": "   "},
        },
        {"id": "form", "content_type": form_type, "query": SPI_QUERY, "body": base_form},
        {
            "id": "form-gbk",
            "content_type": "application/x-www-form-urlencoded;charset=GBK",
            "query": SPI_QUERY,
            "body": _form(form_pairs, "gbk"),
            "charset": "gbk",
        },
        {
            "id": "form-timestamp-%20",
            "content_type": form_type,
            "query": SPI_QUERY.replace("+", "%20"),
            "body": base_form,
        },
        {
            "id": "form-lone-plus",
            "content_type": form_type,
            "query": SPI_QUERY,
            "body": base_form + b"&remark=+",
        },
        {
            "id": "form-tab-value",
            "content_type": form_type,
            "query": SPI_QUERY,
            "body": base_form + b"&remark=%09",
        },
        {
            "id": "form-nbsp-value",
            "content_type": form_type,
            "query": SPI_QUERY,
            "body": base_form + b"&remark=%C2%A0",
        },
        {
            "id": "form-raw-equals",
            "content_type": form_type,
            "query": SPI_QUERY,
            "body": base_form + b"&remark=a=b==",
        },
        {
            "id": "form-bare-key",
            "content_type": form_type,
            "query": SPI_QUERY,
            "body": base_form + b"&remark",
        },
        {
            "id": "query-trailing-equals",
            "content_type": json_type,
            "query": SPI_QUERY.replace("format=json", "format=json="),
            "body": json_body,
        },
        {
            "id": "query-bare-key",
            "content_type": json_type,
            "query": SPI_QUERY + "&remark",
            "body": json_body,
        },
        {
            "id": "query-empty-value",
            "content_type": json_type,
            "query": SPI_QUERY + "&remark=",
            "body": json_body,
        },
        {
            "id": "query-two-equals",
            "content_type": json_type,
            "query": SPI_QUERY + "&remark=a=b",
            "body": json_body,
        },
        {
            "id": "query-empty-pairs",
            "content_type": json_type,
            "query": SPI_QUERY.replace("&v=2.0", "&&v=2.0") + "&",
            "body": json_body,
        },
    ]
    for case in cases:
        case.setdefault("headers", {})
        case.setdefault("charset", "utf-8")
        body = case["body"]
        if isinstance(body, str):
            case["body"] = body.encode(case["charset"])
    return cases


# --- running the SDKs -----------------------------------------------------------------------


def java_whitespace() -> dict[str, Any]:
    out = _run(
        ["java", str(HARNESS / "WhitespaceTable.java")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    version = out[1]
    points = [int(line) for line in out[2:]]
    return {
        "generated_by": "tools/make_sdk_vectors.py (tools/sdk_vectors/WhitespaceTable.java)",
        "java_version": version,
        "rule": "Character.isWhitespace(char) over U+0000..U+FFFF; none above (surrogates)",
        "whitespace": points,
        "python_isspace_disagrees": [
            p for p in range(0x110000) if chr(p).isspace() != (p in set(points))
        ],
    }


def run_java(java_sdk: Path, requests: list[dict[str, Any]], spis: list[dict[str, Any]]) -> Any:
    with tempfile.TemporaryDirectory() as build:
        _run(
            [
                "javac",
                "-encoding",
                "UTF-8",
                "-nowarn",
                "-d",
                build,
                "-sourcepath",
                f"{java_sdk}:{HARNESS / 'stubs'}",
                str(HARNESS / "JavaSdkVectors.java"),
            ],
            check=True,
            capture_output=True,
        )
        lines = []
        for case in requests:
            fields = ["REQ", case["id"], case["sign_method"], _b64(case["secret"])]
            for key, value in case["params"].items():
                fields += [_b64(key), _b64(value)]
            lines.append("\t".join(fields))
        for case in spis:
            fields = [
                "SPI",
                case["id"],
                _b64(case["content_type"]),
                _b64(case["query"]),
                _b64(case["body"]),
                _b64(SECRET),
            ]
            for name, value in case["headers"].items():
                fields += [_b64(name), _b64(value)]
            lines.append("\t".join(fields))
        result = _run(
            ["java", "-cp", build, "JavaSdkVectors"],
            input="\n".join(lines) + "\n",
            check=True,
            capture_output=True,
            text=True,
            encoding="utf-8",
        )
    answers: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        case_id, *rest = line.split("\t")
        answers[case_id] = rest
    return answers


def _no_blanks(case: dict[str, Any]) -> bool:
    # The Node and Python SDKs sign empty and blank values too (the gateway, in Java, skips
    # them): their signs of such cases would not be the platform's.
    return not case["id"].startswith(("blank-", "empty-values-"))


def run_node(node_sdk: Path, requests: list[dict[str, Any]]) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        _run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", folder, NODE_PACKAGE],
            check=True,
            capture_output=True,
        )
        community = Path(folder) / "node_modules" / "node-taobao-topclient"
        payload = {"cases": [c for c in requests if c["sign_method"] == "md5" and _no_blanks(c)]}
        result = _run(
            ["node", str(HARNESS / "node_vectors.js"), str(community), str(node_sdk)],
            input=json.dumps(payload),
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(result.stdout)


def run_python(python_sdk: Path, requests: list[dict[str, Any]]) -> dict[str, str]:
    sys.path.insert(0, str(python_sdk))
    util = importlib.import_module("topsdk.util")
    signs: dict[str, str] = {}
    for case in requests:
        if case["sign_method"] in ("md5", "hmac-sha256") and _no_blanks(case):
            signs[case["id"]] = util.get_sign(
                dict(case["params"]), {}, case["secret"], case["sign_method"]
            )
    return signs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--java-sdk", type=Path, required=True)
    parser.add_argument("--node-sdk", type=Path, required=True)
    parser.add_argument("--python-sdk", type=Path, required=True)
    parser.add_argument("--source", action="append", default=[], help="NAME=REPO@COMMIT")
    args = parser.parse_args(argv)

    whitespace = java_whitespace()
    WHITESPACE.write_text(json.dumps(whitespace, indent=1) + "\n", encoding="utf-8")

    requests, spis = request_cases(), spi_cases()
    java = run_java(args.java_sdk, requests, spis)
    node = run_node(args.node_sdk, requests)
    python = run_python(args.python_sdk, requests)
    java_version = _run(
        ["java", "-version"], capture_output=True, text=True, check=True
    ).stderr.splitlines()[0]
    out_requests = []
    for case in requests:
        signs = {"java": java[case["id"]][0]}
        for name, sign in node.get(case["id"], {}).items():
            signs[f"node:{name}"] = sign
        if case["id"] in python:
            signs["python:topsdk"] = python[case["id"]]
        out_requests.append({**case, "signs": signs})
    out_spis = []
    for case in spis:
        sign, text, accepted = java[case["id"]]
        out_spis.append(
            {
                "id": case["id"],
                "content_type": case["content_type"],
                "query": case["query"],
                "body_base64": _b64(case["body"]),
                "headers": case["headers"],
                "secret": SECRET,
                "sign": sign,
                "java_param_text": base64.b64decode(text).decode("utf-8"),
                "java_check_sign_accepts": accepted == "true",
            }
        )
    document = {
        "about": (
            "Signs computed by the official TOP SDKs' own code, by tools/make_sdk_vectors.py; "
            "tests/unit/test_sdk_parity.py checks Cardmaker against every one."
        ),
        "sdks": {
            "java": {
                "code": "com.taobao.api.internal.util.TaobaoUtils.signTopRequest, "
                "com.taobao.api.internal.spi.SpiUtils (getHeaderMap, getQueryMap, getFormMap, "
                "sign, checkSign); form fields read by a Tomcat-like container emulation",
                "runtime": java_version,
            },
            "node:node-taobao-topclient": {
                "code": "TopClient.sign (md5 only; signs empty values too)",
                "package": NODE_PACKAGE,
            },
            "node:topSdk": {
                "code": "official Node SDK @uiyee/topSdk 2.0.2, lib/api/topClient.js "
                "TopClient.sign (md5 only; signs empty values too)"
            },
            "python:topsdk": {
                "code": "official Python 3 SDK (partner_id new_python3_sdk), topsdk/util.py "
                "get_sign (md5 and hmac-sha256; signs empty values too)"
            },
        },
        "sources": dict(item.split("=", 1) for item in args.source),
        "requests": out_requests,
        "spi": out_spis,
    }
    VECTORS.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {VECTORS.relative_to(ROOT)} and {WHITESPACE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
