"""The real app in headless Chromium: search, refine, add with a size, the cart, card buttons,
photo search, voice upload, start over, two shoppers at once, and inert hostile text.

The app runs on 127.0.0.1 over a slice of the Luma store with the EfficientNet photo encoder.
Every request the page makes to another host is blocked, recorded and fails the test.
Screenshots go to artifacts/browser/ (git-ignored).
"""

from __future__ import annotations

import math
import re
import socket
import struct
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import REPO

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "artifacts" / "browser"
TURN_TIMEOUT_MS = 30_000
PHOTO_PRODUCT = "luma:MH01"
SLICE = re.compile(r"luma:(WJ|MH|24-MG|24-WG)")

# A turn is over when a new assistant message has arrived, the busy placeholder is gone and
# the Send button is enabled again.
TURN_DONE = """
(before) => {
  const bots = document.querySelectorAll('#sa-chat .bot.message');
  const send = document.querySelector('#sa-send');
  if (bots.length <= before || !send || send.disabled) return false;
  return !bots[bots.length - 1].innerText.includes('Looking');
}
"""
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
PHOTOS_LOADED = """
() => {
  const photos = [...document.querySelectorAll('#sa-cards img.sa-photo')];
  return photos.length > 0 && photos.every((img) => img.complete && img.naturalWidth > 0);
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def photo_assistant(assistant, luma_store, text_encoder, effnet, tmp_path_factory):
    """A slice of the Luma store (women's jackets, men's hoodies, watches: 50 products, 153
    photos) indexed with EfficientNet photo vectors, so photo search works; the whole store's
    photos would take minutes to encode. The NLU comes from the session assistant's cache."""
    from assistant import Assistant, RetrievalStack, Settings
    from retrieval import (
        CatalogIndexer,
        CatalogStore,
        EmbeddingCache,
        IngestReport,
        VectorIndex,
        load_image,
    )

    root = tmp_path_factory.mktemp("browser-store")
    store = CatalogStore(root / "catalog.db")
    products = [p for p in luma_store.products("luma") if SLICE.match(p.id)]
    report = IngestReport(catalog="luma", source="browser slice", format="magento")
    store.replace_catalog("luma", products, [], [], report)
    index, cache = VectorIndex(path=root / "chroma"), EmbeddingCache(root / "cache.db")
    CatalogIndexer(
        store, index, cache, text_encoder, image_encoder=effnet, load_image=load_image
    ).sync(progress=False)
    settings = Settings(
        data_dir=assistant.settings.data_dir,
        image_model="efficientnet-lite0",
        speech_backend="none",
    )
    stack = RetrievalStack(
        settings=settings,
        store=store,
        index=index,
        cache=cache,
        text_encoder=text_encoder,
        image_encoder=effnet,
        clip_encoder=None,
    )
    return Assistant(settings, stack)


@pytest.fixture(scope="module")
def app_url(photo_assistant) -> Iterator[str]:
    from ui import serve

    port = free_port()
    app = serve(photo_assistant, port=port, block=False, quiet=True)
    assert app.server_name == "127.0.0.1"
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Chromium missing: `make test` installs the Debian package"
    with sync_playwright() as playwright:
        # Chromium's fake microphone (a beep) stands in for a real one.
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
            ],
        )
        yield chromium
        chromium.close()


class Shopper:
    """One browser context (its own cookies and Gradio session) on the app."""

    def __init__(self, browser, url: str, name: str, **context) -> None:
        self.name = name
        self.offsite: list[str] = []
        self.csp_console: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 1500}, **context)
        self.context.route("**/*", self._guard)
        self.context.add_init_script(RECORD_CSP_VIOLATIONS)
        self.page = self.context.new_page()
        self.page.on("websocket", lambda ws: self._note(ws.url))
        self.page.on("request", lambda request: self._note(request.url))
        self.page.on("console", self._console)
        self.response = self.page.goto(url)
        self.page.locator("#sa-text textarea").wait_for()

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp_console.append(message.text)

    def csp_violations(self) -> list[str]:
        """What the page reported blocking: `securitypolicyviolation` events and console
        messages about the Content-Security-Policy."""
        events = self.page.evaluate("window.__cspViolations || []")
        return [*self.csp_console, *events]

    def _guard(self, route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self._note(route.request.url)
            route.abort()

    def _note(self, url: str) -> None:
        if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname != "127.0.0.1":
            self.offsite.append(url)

    # Actions ------------------------------------------------------------------------------
    def replies(self) -> int:
        return self.page.locator("#sa-chat .bot.message").count()

    def wait_for_turn(self, before: int) -> str:
        self.page.wait_for_function(TURN_DONE, arg=before, timeout=TURN_TIMEOUT_MS)
        return self.page.locator("#sa-chat .bot.message").last.inner_text()

    def say(self, text: str) -> str:
        before = self.replies()
        box = self.page.locator("#sa-text textarea")
        box.fill(text)
        box.press("Enter")
        return self.wait_for_turn(before)

    def click_card(self, index: int, action: str) -> str:
        before = self.replies()
        self.cards.nth(index).locator(f"button[data-action={action}]").click()
        return self.wait_for_turn(before)

    @property
    def cards(self):
        return self.page.locator("#sa-cards .sa-card")

    def titles(self) -> list[str]:
        return self.page.locator("#sa-cards .sa-card .sa-title").all_inner_texts()

    def cart(self) -> str:
        return self.page.locator("#sa-cart").inner_text()

    def chat(self) -> str:
        return self.page.locator("#sa-chat").inner_text()

    def shot(self, label: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SHOTS / f"{self.name}-{label}.png", full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_shopper(browser, app_url, request):
    shoppers: list[Shopper] = []

    def open_(suffix: str = "", **context) -> Shopper:
        shopper = Shopper(browser, app_url, request.node.name + suffix, **context)
        shoppers.append(shopper)
        return shopper

    yield open_
    blocked = [v for shopper in shoppers for v in shopper.csp_violations()]
    for shopper in shoppers:
        shopper.close()
    assert [url for s in shoppers for url in s.offsite] == [], "requests left 127.0.0.1"
    assert blocked == [], "the Content-Security-Policy blocked part of the page"


def test_security_headers_and_a_turn_with_cards_under_the_policy(open_shopper, app_url):
    import httpx

    shopper = open_shopper()
    headers = shopper.response.headers
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'self'" in policy
    assert "object-src 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    for path in ("api/v1/search?q=watch", "no/such/page"):
        answer = httpx.get(app_url + path, timeout=30)
        assert answer.headers["content-security-policy"] == policy, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
    assert shopper.say("show me watches").startswith("Here are")
    shopper.page.wait_for_function(PHOTOS_LOADED, timeout=TURN_TIMEOUT_MS)
    assert shopper.cards.count() > 0
    shopper.click_card(0, "details")  # the card script (js_on_load) runs under the policy
    assert "tell me more about #1" in shopper.chat()
    assert shopper.csp_violations() == []


def test_search_refine_and_add_with_a_size(open_shopper):
    from playwright.sync_api import expect

    shopper = open_shopper()
    reply = shopper.say("show me women's jackets")
    assert reply.startswith("Here are")
    expect(shopper.cards.first).to_be_visible()
    assert shopper.cards.count() >= 3
    shopper.page.wait_for_function(PHOTOS_LOADED, timeout=TURN_TIMEOUT_MS)
    assert shopper.page.locator("#sa-cards img.sa-photo").count() == shopper.cards.count()
    prices = shopper.page.locator("#sa-cards .sa-card .sa-now").all_inner_texts()
    assert all(p.startswith("$") for p in prices)
    shopper.shot("1-jackets")

    shopper.say("in blue")
    colours = shopper.page.locator("#sa-cards .sa-card .sa-colours").all_inner_texts()
    assert colours and len(colours) == shopper.cards.count()
    assert all("Blue" in line for line in colours), colours
    photos = shopper.page.locator("#sa-cards img.sa-photo")
    alts = [photos.nth(i).get_attribute("alt") for i in range(photos.count())]
    assert alts == [f"{title} in Blue" for title in shopper.titles()]  # the blue photos
    second = shopper.titles()[1]
    shopper.shot("2-in-blue")

    asked = shopper.click_card(1, "add")
    assert "add #2 to my cart" in shopper.chat()
    assert "size" in asked.lower() and second in asked
    assert "Your cart is empty" in shopper.cart()
    added = shopper.say("M")
    assert second in added
    expect(shopper.page.locator("#sa-cart .sa-line-title")).to_have_text([second])
    assert "size M" in shopper.cart() and "(1 item)" in shopper.cart()
    shopper.shot("3-cart")


def test_card_buttons_compare_and_start_over(open_shopper):
    from playwright.sync_api import expect

    shopper = open_shopper()
    shopper.say("men's hoodies")
    first = shopper.titles()[0]
    thumbs_up = shopper.cards.first.locator("button[data-action=up]")
    thumbs_up.click()
    expect(shopper.cards.first.locator("button[data-action=up]")).to_have_attribute(
        "aria-pressed", "true"
    )
    before = shopper.titles()
    shopper.click_card(0, "more")
    assert "show me more like #1" in shopper.chat()
    expect(shopper.cards.first).to_be_visible()
    assert shopper.titles() != before and first not in shopper.titles()

    shopper.say("compare the first two")
    table = shopper.page.locator("#sa-compare table")
    expect(table).to_be_visible()
    assert all(title in table.inner_text() for title in shopper.titles()[:2])
    shopper.shot("compare")

    shopper.page.locator("#sa-start-over").click()
    expect(shopper.page.locator("#sa-chat .message")).to_have_count(0)
    expect(shopper.cards).to_have_count(0)
    expect(shopper.page.locator("#sa-compare")).to_be_hidden()
    assert "Your cart is empty" in shopper.cart()


def test_photo_upload_finds_the_product(open_shopper, photo_assistant):
    from playwright.sync_api import expect

    product = photo_assistant.stack.store.get(PHOTO_PRODUCT)
    photo = Path(product.images[0].path)
    shopper = open_shopper()
    shopper.page.locator("#sa-photo input[type=file]").set_input_files(photo)
    expect(shopper.page.locator("#sa-photo img")).to_be_visible()
    before = shopper.replies()
    shopper.page.locator("#sa-send").click()
    shopper.wait_for_turn(before)
    shopper.page.wait_for_function(PHOTOS_LOADED, timeout=TURN_TIMEOUT_MS)
    assert product.title in shopper.titles()[:3], shopper.titles()
    assert shopper.page.locator("#sa-chat .user.message img").count() == 1
    expect(shopper.page.locator("#sa-photo img")).to_have_count(0)  # cleared for the next turn
    shopper.shot("photo")


def test_two_shoppers_keep_their_own_chat_and_cart(open_shopper):
    alice, bob = open_shopper("-alice"), open_shopper("-bob")
    alice.say("watches")
    watch = alice.titles()[0]
    alice.say("add the first one")
    assert watch in alice.cart()

    bob.say("men's hoodies")
    assert "watches" not in bob.chat() and watch not in bob.chat()
    assert "Your cart is empty" in bob.cart()
    assert "empty" in bob.say("what's in my cart?").lower()
    assert watch in alice.say("what's in my cart?")
    assert watch in alice.cart() and "Your cart is empty" in bob.cart()
    alice.shot("cart")
    bob.shot("cart")


def test_hostile_message_stays_text(open_shopper):
    shopper = open_shopper()
    hostile = "<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script> **hi**"
    shopper.say(hostile)
    assert shopper.page.evaluate("window.__pwned") is None
    assert hostile in shopper.chat()
    assert shopper.page.locator("#sa-chat img[src=x], #sa-chat script").count() == 0


def write_tone(path: Path, seconds: float = 1.0, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        samples = (
            int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(rate * seconds))
        )
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def upload_recording(shopper: Shopper, clip: Path) -> str:
    from playwright.sync_api import expect

    shopper.page.locator("#sa-audio button[aria-label='Upload file']").click()
    shopper.page.locator("#sa-audio input[type=file]").set_input_files(clip)
    expect(
        shopper.page.locator("#sa-audio audio, #sa-audio [data-testid=waveform-Voice] audio").first
    ).to_be_attached()
    before = shopper.replies()
    shopper.page.locator("#sa-send").click()
    return shopper.wait_for_turn(before)


def test_voice_upload_without_speech_module_asks_to_type(open_shopper, photo_assistant, tmp_path):
    assert photo_assistant.transcriber is None
    shopper = open_shopper()
    assert "localhost or HTTPS" in shopper.page.locator("#sa-mic-note").inner_text()
    reply = upload_recording(shopper, write_tone(tmp_path / "tone.wav"))
    assert "please type" in reply
    assert "(voice message)" in shopper.chat()


def test_microphone_recording_is_sent_when_it_stops(open_shopper, photo_assistant):
    assert photo_assistant.transcriber is None
    shopper = open_shopper(permissions=["microphone"])
    before = shopper.replies()
    audio = shopper.page.locator("#sa-audio")
    audio.get_by_role("button", name="Record", exact=True).click()
    shopper.page.wait_for_timeout(1500)
    audio.locator("button.stop-button").click()
    reply = shopper.wait_for_turn(before)
    assert "please type" in reply and "(voice message)" in shopper.chat()


def test_spoken_request_shows_the_transcript_then_the_answer(
    photo_assistant, open_shopper, tmp_path, monkeypatch
):
    from dataclasses import replace

    # The speech recipe the app runs (catalog prompt, beam, phrase model), not a bare model.
    speaking = replace(photo_assistant.settings, speech_backend="faster-whisper")
    monkeypatch.setattr(photo_assistant, "settings", speaking)
    photo_assistant.transcriber = photo_assistant._speech()
    try:
        clip = tmp_path / "watches.wav"
        subprocess.run(["espeak-ng", "-w", str(clip), "show me watches"], check=True)
        shopper = open_shopper()
        reply = upload_recording(shopper, clip)
        assert "watch" in shopper.page.locator("#sa-chat .user.message").last.inner_text().lower()
        assert reply.startswith("Here are") and shopper.cards.count() > 0
    finally:
        photo_assistant.transcriber = None
