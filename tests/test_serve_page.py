"""The page at / in headless Chromium (Debian's chromium), driven over the DevTools protocol as a user
would use it: choose a model, give it an image file or type a review, and read the top class shown."""

import itertools
import json
import shutil
import subprocess
import time
import urllib.request

import pytest
import websocket

from toolkit.runtime import Predictor

from conftest import REFERENCE_BUNDLE, SAMPLES
from serving import start

REVIEWS = REFERENCE_BUNDLE.parent / "review-sentiment"
REVIEW = "A gorgeous, witty, seductive movie."


class Browser:
    """Headless Chromium and one DevTools session to its page."""

    def __init__(self, profile):
        chromium = shutil.which("chromium")
        assert chromium, "chromium is missing: scripts/setup.sh installs it (apt-get install chromium)"
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
        ]
        self.process = subprocess.Popen([chromium, *flags, "about:blank"], stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline and self.process.poll() is None, "chromium did not start"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as response:
            page = next(t for t in json.load(response) if t["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)

    def send(self, method: str, **params) -> dict:
        call = next(self.ids)
        self.socket.send(json.dumps({"id": call, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == call:
                assert "error" not in message, message
                return message["result"]

    def evaluate(self, expression: str):
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        shown_error = self.evaluate("$('error').textContent")
        raise AssertionError(f"the page never showed {expression}; its error line: {shown_error!r}")

    def close(self):
        self.socket.close()
        self.process.kill()
        self.process.wait()


@pytest.fixture
def browser(tmp_path):
    opened = Browser(tmp_path / "profile")
    yield opened
    opened.close()


def test_the_page_shows_the_top_classes_of_an_image_and_of_a_review(browser):
    served = start(REFERENCE_BUNDLE, REVIEWS)
    try:
        browser.send("Page.navigate", url=served.url + "/")
        assert browser.wait_for("$('model').options.length") == 2
        browser.evaluate("$('model').value = 'fashion-mlp'; $('model').dispatchEvent(new Event('change'))")
        browser.wait_for("!$('image-input').classList.contains('hidden')")
        document = browser.send("DOM.getDocument")["root"]["nodeId"]
        file_input = browser.send("DOM.querySelector", nodeId=document, selector="#file")["nodeId"]
        browser.send("DOM.setFileInputFiles", nodeId=file_input, files=[str(SAMPLES / "sandal-8.png")])
        shown = browser.wait_for("document.querySelector('.bar') && document.querySelector('.bar').dataset.label")
        expected = Predictor(REFERENCE_BUNDLE).predict_image(SAMPLES / "sandal-8.png")
        assert shown == expected.label == "Sandal"
        percent = browser.evaluate("document.querySelector('.bar .pct').textContent")
        assert percent == f"{expected.probability * 100:.1f}%"
        assert browser.evaluate("document.querySelectorAll('.bar').length") == 5

        browser.evaluate("$('model').value = 'review-sentiment'; $('model').dispatchEvent(new Event('change'))")
        browser.wait_for("!$('text-input').classList.contains('hidden') && !document.querySelector('.bar')")
        browser.evaluate(f"$('text').value = {json.dumps(REVIEW)}; $('text-form').requestSubmit()")
        shown = browser.wait_for("document.querySelector('.bar') && document.querySelector('.bar').dataset.label")
        assert shown == Predictor(REVIEWS).predict_text(REVIEW).label == "fresh"

        browser.evaluate("$('text').value = '!!!'; $('text-form').requestSubmit()")
        assert "no words in it" in browser.wait_for("$('error').textContent")
    finally:
        assert served.stop() == 0
