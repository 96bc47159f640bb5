"""The TOP client against raw posts, and signing against the bare HMAC it is built on.

(a) ``top_client_per_s``: ``card.bind`` calls (a typical delivery of 2 cards) through
    ``TopClient.call`` to the fake TOP gateway over HTTP on 127.0.0.1: parameters checked,
    credentials asked, system parameters built and signed (hmac-sha256), the pooled POST, the
    answer read and unwrapped;
    ``raw_top_posts_per_s``: the baseline, raw posts of the same signed calls (the same
    method, parameters and signature scheme, signed beforehand, untimed) with a pooled
    ``requests`` session to the same gateway;
    ``top_client_vs_raw_ratio``: goal >= 0.9. Interleaved call by call, so that drift hits
    both alike; rates from the median call's wall time (the gateway answers from a thread of
    this process).
(b) ``sign_per_s``: ``sign_request`` of the full parameters of one such call (system and
    business, sorted, blanks skipped, concatenated, HMAC-SHA256, hex);
    ``hmac_floor_per_s``: bare HMAC-SHA256 (``hmac.digest``, one C call) of the same
    concatenated string, prepared beforehand;
    ``sign_vs_hmac_floor_ratio``: goal >= 0.7. CPU time of this process, best of rounds.
"""

from __future__ import annotations

import hashlib
import hmac
import statistics
import sys
import time
from urllib.parse import urlencode

import requests

from bench.goals import Goal, report
from cardmaker.top import (
    CardBindRequest,
    FixedCredentials,
    TopClient,
    sign_request,
)
from cardmaker.top.signing import canonical_params
from cardmaker_cli.samples import DEMO_APP_KEY, DEMO_SECRET
from local.top_gateway import FakeTopGateway

CALLS = 600
WARMUP_CALLS = 20
SIGN_ROUNDS = 5
SIGNS_PER_ROUND = 20_000
CLIENT_GOAL = Goal("top_client_vs_raw_ratio", ">=", 0.9)
SIGN_GOAL = Goal("sign_vs_hmac_floor_ratio", ">=", 0.7)
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


class BenchFailed(Exception):
    pass


def bind_params(number: int) -> dict[str, str]:
    """A typical ``card.bind``: two cards of one delivery, for one buyer."""
    return CardBindRequest(
        top_app_key=DEMO_APP_KEY,
        out_biz_id=f"D{number:012d}",
        card_no_s=[f"3101{number:015d}", f"3101{number + 500_000_000:015d}"],
        buyer_open_uid=f"AAH{number:010d}buyer",
    ).to_params()


def measure_client(gateway: FakeTopGateway) -> tuple[float, float]:
    """Median seconds of one call: (client call, raw post). Calls alternate one by one (which
    goes first alternates too), so that the machine's load hits both alike; medians, because
    on a shared machine a few calls wait for a core far longer than the rest."""
    client = TopClient(gateway.url, DEMO_APP_KEY, FixedCredentials(DEMO_SECRET))
    credentials = FixedCredentials(DEMO_SECRET).current()
    http = requests.Session()  # pooled, as the client's own
    calls = [bind_params(1_000_000 + n) for n in range(WARMUP_CALLS + CALLS)]
    posts = []
    for n in range(WARMUP_CALLS + CALLS):  # other deliveries: the gateway takes each anew
        params = bind_params(2_000_000 + n)
        query = client.system_params(CardBindRequest.METHOD, params, credentials)
        posts.append((query, urlencode(list(params.items())).encode("ascii")))
    client_s: list[float] = []
    raw_s: list[float] = []
    for n, (params, (query, body)) in enumerate(zip(calls, posts, strict=True)):
        for work in ("client", "raw") if n % 2 == 0 else ("raw", "client"):
            started = time.perf_counter()
            if work == "client":
                client.call(CardBindRequest.METHOD, params)
            else:
                answer = http.post(gateway.url, params=query, data=body, headers=FORM, timeout=10)
                if answer.status_code != 200 or "error_response" in answer.text:
                    raise BenchFailed(f"a raw post was refused: {answer.text[:200]}")
            elapsed = time.perf_counter() - started
            if n >= WARMUP_CALLS:
                (client_s if work == "client" else raw_s).append(elapsed)
    client.close()
    accepted = sum(len(call.accepted) for call in gateway.calls)
    expected = 2 * 2 * (WARMUP_CALLS + CALLS)  # two cards a call, two kinds of call
    if accepted != expected:
        raise BenchFailed(f"{accepted} cards accepted, {expected} expected")
    return statistics.median(client_s), statistics.median(raw_s)


def measure_signing() -> tuple[float, float]:
    """Best CPU seconds per round: (sign_request, bare HMAC of the same string)."""
    client = TopClient(
        "http://127.0.0.1:9/router/rest", DEMO_APP_KEY, FixedCredentials(DEMO_SECRET)
    )
    credentials = FixedCredentials(DEMO_SECRET).current()
    params = bind_params(7)
    system = client.system_params(CardBindRequest.METHOD, params, credentials)
    del system["sign"]
    everything = {**system, **params}
    key = DEMO_SECRET.encode("utf-8")
    content = canonical_params(everything, skip_empty=True).encode("utf-8")
    if hmac.digest(key, content, "sha256").hex().upper() != sign_request(
        everything, DEMO_SECRET, "hmac-sha256"
    ):
        raise BenchFailed("the floor does not hash what sign_request signs")
    signing = floor = float("inf")
    for _ in range(SIGN_ROUNDS):
        started = time.process_time()
        for _ in range(SIGNS_PER_ROUND):
            sign_request(everything, DEMO_SECRET, "hmac-sha256")
        signing = min(signing, time.process_time() - started)
        started = time.process_time()
        for _ in range(SIGNS_PER_ROUND):
            hmac.digest(key, content, hashlib.sha256)
        floor = min(floor, time.process_time() - started)
    return signing, floor


def main() -> int:
    try:
        # Signing first, on a fresh heap: the HTTP run's leftovers (threads, connection pools,
        # a heap for the collector to walk) would be charged to whichever side allocates more.
        signing_s, floor_s = measure_signing()
        with FakeTopGateway(DEMO_APP_KEY, DEMO_SECRET, "bench-session") as gateway:
            client_s, raw_s = measure_client(gateway)
    except BenchFailed as failure:
        print(f"bench FAILED: {failure}", file=sys.stderr)
        return 1
    count = CALLS
    client_rate, raw_rate = 1 / client_s, 1 / raw_s
    sign_rate, floor_rate = SIGNS_PER_ROUND / signing_s, SIGNS_PER_ROUND / floor_s
    print(f"top client: {count} card.bind calls (2 cards) to the fake gateway vs {count} raw posts")
    print(f"top_client_per_s={client_rate:.0f}")
    print(f"raw_top_posts_per_s={raw_rate:.0f}")
    print(f"top_client_vs_raw_ratio={client_rate / raw_rate:.2f}  {CLIENT_GOAL.describe()}")
    print(f"signing: a card.bind call's parameters, best of {SIGN_ROUNDS} x {SIGNS_PER_ROUND}")
    print(f"sign_per_s={sign_rate:.0f}")
    print(f"hmac_floor_per_s={floor_rate:.0f}")
    print(f"sign_vs_hmac_floor_ratio={sign_rate / floor_rate:.2f}  {SIGN_GOAL.describe()}")
    report(
        (CLIENT_GOAL, client_rate / raw_rate),
        (SIGN_GOAL, sign_rate / floor_rate),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
