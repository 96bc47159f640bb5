"""The operator console in a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium), against the local stack over HTTP: an order with a
delivery shows with its lifecycle, its templates' progress and stock, the delivery's card
outcomes and the failure queues; new events show up without a reload; the main view's
screenshot is a real image with the expected regions.

Without Chromium the tests fail, saying how to install it (``make test`` installs it on
Debian as root, as CI runs); ``CARDMAKER_SKIP_BROWSER=1`` turns that into a skip, for a
machine that cannot have it (docs/testing.md).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import botocore.auth
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:  # the fixture says what is missing (requirements-dev.txt)
    webdriver = None  # type: ignore[assignment]

from cardmaker_cli.samples import sample_order
from local.platform import sample_delivery, sign_demo_call
from local.stack import LocalStack
from local.template import REPO
from tests.e2e import png

CHROMIUM = os.environ.get("CARDMAKER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CARDMAKER_CHROMEDRIVER", "/usr/bin/chromedriver")
# Without these, Chromium reaches out to Google's services, which a closed network refuses
# (and which slow every start); a fresh profile each run.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
)
WIDTH, HEIGHT = 1200, 800
ORDER = 16002
TEMPLATES = [("3010030E02", 20, "10000"), ("3010030E05", 5, "500000")]
REFERENCE = REPO / "tests" / "data" / "console-main.png"
BLOCK = 40  # the reference's pixels: the screenshot's mean grey per 40 x 40 block
WAIT_SECONDS = 20
pytestmark = pytest.mark.stack_owns_environment  # one local stack for the module's tests


def _browser_missing() -> str | None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        return (
            f"{' and '.join(missing)} not found: the console's browser test needs Debian's "
            "chromium and chromium-driver (`apt-get install -y chromium chromium-driver`; "
            "`make test` installs them itself when run as root on Debian)"
        )
    if webdriver is None:
        return "selenium is not installed (requirements-dev.txt; `make test` installs it)"
    return None


@dataclass
class Console:
    stack: LocalStack
    driver: Any
    delivery_id: str

    def wait_for(self, what: str, check: Callable[[], Any]) -> Any:
        """``check()``'s first truthy answer within the bound, or a failure naming ``what``."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                found = check()
            except Exception:  # the element is not there yet, or was just redrawn
                found = None
            if found:
                return found
            if time.monotonic() > deadline:
                problem = self.text("#problem")
                raise AssertionError(f"the console never showed {what} (problem: {problem!r})")
            time.sleep(0.2)

    def text(self, selector: str) -> str:
        elements = self.driver.find_elements(By.CSS_SELECTOR, selector)
        return " ".join(element.text for element in elements)


def _post_order(stack: LocalStack) -> None:
    call = sign_demo_call(sample_order(ORDER, "daily", TEMPLATES))
    answer = requests.post(call.url(stack.url), data=call.body, headers=call.headers, timeout=30)
    assert answer.json()["response"]["result_code"] == "SUCCESS", answer.text


def _bind(stack: LocalStack, quantity: int, out_biz_id: str) -> str:
    body = sample_delivery(
        "bind", ORDER, "daily", "3010030E02", quantity=quantity, out_biz_id=out_biz_id
    )
    answer = requests.post(f"{stack.url}/deliveries", json=body, timeout=30)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["delivery_id"])


@pytest.fixture(scope="module")
def console() -> Iterator[Console]:
    missing = _browser_missing()
    if missing is not None:
        if os.environ.get("CARDMAKER_SKIP_BROWSER") == "1":
            pytest.skip(f"CARDMAKER_SKIP_BROWSER=1: {missing}")
        pytest.fail(f"{missing} (or set CARDMAKER_SKIP_BROWSER=1 to skip)", pytrace=False)
    with LocalStack(port=0, access_log=False) as stack:
        _post_order(stack)
        stack.wait_idle(60)
        delivery_id = _bind(stack, 3, "B1")
        stack.wait_idle(60)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--window-size={WIDTH},{HEIGHT}")
        with tempfile.TemporaryDirectory(prefix="cardmaker-chromium-") as profile:
            options.add_argument(f"--user-data-dir={profile}")
            driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
            try:
                # The viewport, not the window, is what the screenshot shows.
                inner = driver.execute_script("return [innerWidth, innerHeight]")
                driver.set_window_size(WIDTH * 2 - inner[0], HEIGHT * 2 - inner[1])
                driver.get(f"{stack.url}/console/?own_sign=daily&delivery={delivery_id}")
                yield Console(stack, driver, delivery_id)
            finally:
                driver.quit()


def test_the_console_shows_the_order_its_progress_stock_delivery_and_failures(console):
    order_row = f'tr[data-order="{ORDER}"]'
    console.wait_for("the order", lambda: console.text(f"{order_row} th") == "CM-daily-16002")
    assert console.text(f'{order_row} li[aria-current="step"]') == "GENERATED"
    assert console.text(f"{order_row} td.number") == "25"
    e02, e05 = 'tr[data-template="3010030E02"]', 'tr[data-template="3010030E05"]'
    console.wait_for("the stock", lambda: console.text(f"{e02} .remaining") == "17")
    assert console.text(f"{e02} .generated") == "20/20"
    assert console.text(f"{e02} .handed-out") == "3"
    assert (console.text(f"{e05} .generated"), console.text(f"{e05} .remaining")) == ("5/5", "5")
    progress = console.driver.find_element("css selector", f"{e02} progress")
    assert (progress.get_attribute("value"), progress.get_attribute("max")) == ("20", "20")
    delivery = f'tr[data-delivery="{console.delivery_id}"]'
    console.wait_for("the delivery", lambda: console.text(f"{delivery} .status") == "DELIVERED")
    assert console.text(f"{delivery} summary") == "3 BOUND"
    assert "16002 · 3010030E02" in console.text(delivery)
    queues = console.driver.find_elements("css selector", "#failures tbody tr")
    assert [row.get_attribute("data-queue") for row in queues] == [
        "generator",
        "delivery",
        "events",
        "notifier",
        "fulfilment",
    ]
    assert console.text("#failures tbody td.number") == " ".join(["0"] * 10)
    assert console.driver.find_element("css selector", "#problem").is_displayed() is False


def test_the_main_view_screenshot(console, tmp_path):
    console.wait_for("the delivery", lambda: console.text("tr[data-delivery] .status"))
    shot = tmp_path / "console.png"
    assert console.driver.save_screenshot(str(shot))
    image = png.decode(shot.read_bytes())  # a whole, valid PNG (CRCs, data length)
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    greys = [image.grey(x, y) for y in range(0, HEIGHT, 4) for x in range(0, WIDTH, 4)]
    inked = sum(grey < 200 for grey in greys) / len(greys)
    assert len(set(greys)) > 32, len(set(greys))
    assert 0.01 < inked < 0.5, inked
    # Key regions, located by the page itself (so fonts may move them): their colours.
    regions = console.driver.execute_script(
        """const box = (s) => { const r = document.querySelector(s).getBoundingClientRect();
           return [r.left, r.top, r.width, r.height].map(Math.round); };
           return {header: box("header"), current: box('#orders li[aria-current="step"]'),
                   done: box("#orders li.done"), delivered: box("tr[data-delivery] .status")};"""
    )
    assert _colour_share(image, regions["header"], (0xF6, 0xF8, 0xFA)) > 0.5
    assert _colour_share(image, regions["current"], (0x0A, 0x58, 0xCA)) > 0.4
    assert _colour_share(image, regions["done"], (0xDA, 0xFB, 0xE1)) > 0.4
    left, top, width, height = regions["delivered"]
    assert any(  # DELIVERED is written in green
        green > red + 40 and green > blue
        for red, green, blue in (
            image.pixel(x, y) for y in range(top, top + height) for x in range(left, left + width)
        )
    )
    _compare_with_reference(image, tmp_path)


def _colour_share(image: png.Image, box: list[int], colour: tuple[int, int, int]) -> float:
    left, top, width, height = box
    assert width > 0, box
    assert height > 0, box
    pixels = [
        image.pixel(x, y)
        for y in range(top, min(top + height, image.height))
        for x in range(left, min(left + width, image.width))
    ]
    close = sum(
        all(abs(a - b) <= 12 for a, b in zip(pixel, colour, strict=True)) for pixel in pixels
    )
    return close / len(pixels)


def _compare_with_reference(image: png.Image, tmp_path: Path) -> None:
    """The layout against the committed reference, loosely: the mean grey of each 40 x 40
    block (text differs with the fonts and the timestamps; the layout's blocks hardly), no
    block far off and the whole close. ``CARDMAKER_UPDATE_SCREENSHOT=1`` rewrites it."""
    columns, rows = image.width // BLOCK, image.height // BLOCK
    blocks = [
        sum(
            image.grey(x, y)
            for y in range(row * BLOCK, (row + 1) * BLOCK, 4)
            for x in range(column * BLOCK, (column + 1) * BLOCK, 4)
        )
        // (BLOCK // 4) ** 2
        for row in range(rows)
        for column in range(columns)
    ]
    (tmp_path / "console-blocks.png").write_bytes(png.encode_grey(columns, rows, blocks))
    if os.environ.get("CARDMAKER_UPDATE_SCREENSHOT") == "1":
        REFERENCE.write_bytes(png.encode_grey(columns, rows, blocks))
    reference = png.decode(REFERENCE.read_bytes())
    assert (reference.width, reference.height) == (columns, rows)
    differences = [
        abs(blocks[row * columns + column] - reference.grey(column, row))
        for row in range(rows)
        for column in range(columns)
    ]
    mean = sum(differences) / len(differences)
    assert mean < 6, (mean, tmp_path)
    assert max(differences) < 90, (max(differences), tmp_path)


def test_the_console_follows_new_events_without_a_reload(console):
    driver, stack = console.driver, console.stack
    driver.execute_script("window.notReloaded = true")
    refreshes = int(driver.execute_script("return document.body.dataset.refreshes"))
    made = requests.post(f"{stack.url}/orders/{ORDER}/made?own_sign=daily", timeout=30)
    assert made.status_code == 202, made.text
    _bind(stack, 2, "B2")
    queue_url = stack.outputs()["DeliveryFailuresQueueUrl"]
    stack.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps({"probe": 1}))
    order_row = f'tr[data-order="{ORDER}"]'
    console.wait_for(
        "the order MADE", lambda: console.text(f'{order_row} li[aria-current="step"]') == "MADE"
    )
    e02 = 'tr[data-template="3010030E02"]'
    console.wait_for("5 cards handed out", lambda: console.text(f"{e02} .handed-out") == "5")
    assert console.text(f"{e02} .remaining") == "15"
    console.wait_for(
        "a failure waiting",
        lambda: console.text('tr[data-queue="delivery"] td.number') == "1 0",
    )
    assert driver.execute_script("return window.notReloaded") is True
    assert int(driver.execute_script("return document.body.dataset.refreshes")) > refreshes


def test_the_deployed_consoles_signer_signs_as_the_aws_sdk_does(console, monkeypatch):
    """console/signing.js, run by Chromium's WebCrypto, gives the very headers botocore's
    SigV4 gives the same request (what API Gateway's IAM authorizer checks)."""
    url = (
        "https://abc123.execute-api.eu-west-1.amazonaws.com/orders/16002/stock"
        "?own_sign=daily&next=a%2Bb%3D%3D&limit=20&status=A%20B"
    )
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    token = "IQoJb3JpZ2luX2VjE/session+token=="
    signed = console.driver.execute_async_script(
        """const [url, credentials, done] = arguments;
        CardmakerSigning.signRequest({method: "GET", url, credentials, region: "eu-west-1",
          now: new Date(Date.UTC(2026, 10, 30, 12, 0, 0))}).then(done, (e) => done(String(e)));""",
        url,
        {"accessKeyId": "ASIAEXAMPLE", "secretAccessKey": secret, "sessionToken": token},
    )
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: datetime(2026, 11, 30, 12))
    request = AWSRequest(method="GET", url=url, data=b"")
    SigV4Auth(Credentials("ASIAEXAMPLE", secret, token), "execute-api", "eu-west-1").add_auth(
        request
    )
    assert signed == {
        "authorization": request.headers["Authorization"],
        "x-amz-date": "20261130T120000Z",
        "x-amz-security-token": token,
    }
