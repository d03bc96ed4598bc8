"""The shopper UI without a browser: the HTML builders (escaping, sale prices, sizes), the turn
handler over the real assistant (streaming, cards, card buttons, cart, start over, sessions,
friendly failures), photo thumbnails, the served app and the `serve` command."""

from __future__ import annotations

import argparse
import base64
import io
import itertools
import re
import socket
from pathlib import Path

import httpx
import pytest
from conftest import ESHOP, LUMA_IMAGES
from PIL import Image

from assistant import Assistant, Settings
from dialogue import CartLine, Comparison, ProductCard
from ui._html import (
    ShelfItem,
    card_html,
    cards_html,
    cart_html,
    compare_html,
    message_html,
    notices_html,
    price_html,
)
from ui._images import Thumbnails, thumbnail_data_url
from ui._shop import BUSY_HTML, COMPARE_NOTE, FAILURE, Frame, Shop
from ui.cli import AUTH_ENV, add_commands, parse_auth

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESHOP_PHOTO = ESHOP.parent / "images" / "1.webp"


def hostile_card(**changes) -> ProductCard:
    fields = {
        "id": 'luma:"><script>1</script>',
        "title": HOSTILE,
        "price": 45.0,
        "brand": "<b>Brand</b>",
        "sizes": ("XS", "S", "<i>M</i>"),
        "in_stock_sizes": ("S", "<i>M</i>"),
        "colors": ("Blue", "<u>Red</u>"),
        "rating": 4.25,
        "review_count": 3,
    }
    return ProductCard(**{**fields, **changes})


def last(frames) -> Frame:
    *_, final = frames
    return final


def card_ids(html: str) -> list[str]:
    return re.findall(r'<article class="sa-card[^"]*" data-product="([^"]+)"', html)


def shop_for(assistant: Assistant) -> Shop:
    return Shop(assistant, stream_delay=0)


class TestHtml:
    def test_hostile_catalog_text_is_escaped_everywhere_on_a_card(self):
        item = ShelfItem(hostile_card(), reason=HOSTILE, number=1)
        html = card_html(item, position=1, image='x" onload="alert(1)')
        assert "<script" not in html and "<img src=x" not in html and "<b>" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
        assert 'onload="alert' not in html and "x&quot; onload=&quot;alert(1)" in html
        assert 'data-product="luma:&quot;&gt;&lt;script&gt;1&lt;/script&gt;"' in html
        assert "&lt;i&gt;M&lt;/i&gt;" in html and "&lt;u&gt;Red&lt;/u&gt;" in html

    def test_sale_price_strikes_the_regular_price(self):
        sale = price_html(hostile_card(price=45.0, regular_price=57.0))
        assert '<span class="sa-now">$45.00</span>' in sale
        assert re.search(r"<s class=\"sa-was\"[^>]*>\$57\.00</s>", sale)
        plain = price_html(hostile_card(price=45.0))
        assert "<s " not in plain and "sa-was" not in plain and "$45.00" in plain
        assert "from" in price_html(hostile_card(price=32.0, price_is_from=True))
        assert "price on request" in price_html(hostile_card(price=None))

    def test_sizes_colours_rating_and_reason_are_on_the_card(self):
        card = ProductCard(
            id="luma:WJ02",
            title="Josie Yoga Jacket",
            price=56.25,
            sizes=("XS", "S", "M"),
            in_stock_sizes=("S", "M"),
            colors=("Black", "Blue"),
            rating=3.5,
            review_count=4,
        )
        html = card_html(ShelfItem(card, "In Blue", 2), position=2)
        assert '<s class="sa-chip sa-out" title="out of stock">XS</s>' in html
        assert '<span class="sa-chip">S</span>' in html and '<span class="sa-chip">M</span>' in html
        assert "Black, Blue" in html and "★ 3.5" in html and "(4 reviews)" in html
        assert "In Blue" in html and "#2" in html
        assert 'data-action="add"' in html and 'data-action="more"' in html

    def test_a_colour_photo_says_its_colour(self):
        card = ProductCard(
            id="luma:WJ02",
            title="Josie Yoga Jacket",
            price=56.25,
            colors=("Black", "Blue"),
            image="/photos/wj02.jpg",
            color_images=(("Blue", "/photos/wj02-blue.jpg"),),
        )
        assert 'alt="Josie Yoga Jacket"' in card_html(ShelfItem(card, "", 1), position=1, image="x")
        blue = card_html(ShelfItem(card.in_color("blue"), "", 1), position=1, image="x")
        assert 'alt="Josie Yoga Jacket in Blue"' in blue
        assert card.in_color("red") is card and card.in_color("red", "BLUE").image.endswith(
            "blue.jpg"
        )

    def test_cards_off_the_dialogue_list_get_no_turn_buttons(self):
        item = ShelfItem(hostile_card(), "but over your $40.00 limit", 6, alternative=True)
        html = card_html(item, position=None, feedback=1)
        assert 'data-action="add"' not in html and 'data-action="more"' not in html
        assert re.search(r'data-action="up"[^>]*aria-pressed="true"', html)
        assert re.search(r'data-action="down"[^>]*aria-pressed="false"', html)
        assert "sa-alt" in html and "Close match" in html

    def test_card_grid_sections_and_photos(self):
        first = ShelfItem(hostile_card(id="a:1", title="One"), "fits", 1)
        near = ShelfItem(hostile_card(id="a:2", title="Two"), "misses", 2, alternative=True)
        html = cards_html(
            [first, near],
            positions={"a:1": 1},
            feedback={},
            focus="a:1",
            thumbnail=lambda path: "data:image/jpeg;base64,AAAA",
        )
        assert card_ids(html) == ["a:1", "a:2"]
        assert "Suggestions" in html and "Close alternatives" in html
        assert 'class="sa-card sa-focus"' in html
        assert html.count('src="data:image/jpeg;base64,AAAA"') == 2
        assert "sa-empty" in cards_html([], positions={}, feedback={})

    def test_comparison_table_is_escaped(self):
        table = Comparison(
            product_ids=["a:1", "a:2"],
            titles=[HOSTILE, "Plain"],
            rows=[("Price", ["$1.00", "<b>$2.00</b>"]), ("<i>Sizes</i>", ["S", "M"])],
        )
        html = compare_html(table, images=["data:image/jpeg;base64,AAAA"])
        assert "<script" not in html and "<b>" not in html and "<i>" not in html
        assert "&lt;b&gt;$2.00&lt;/b&gt;" in html and "<td>$1.00</td>" in html
        assert html.count("<tr>") == 3 and html.count("<img") == 1
        assert compare_html(None) == ""

    def test_cart_lines_totals_and_escaping(self):
        lines = [
            CartLine("a:1", HOSTILE, 56.25, quantity=2, size="M", color="Blue"),
            CartLine("a:2", "Bottle", 7.0),
        ]
        html = cart_html(lines, 119.5)
        assert "<script" not in html and "&lt;script&gt;" in html
        assert "(Blue, size M)" in html and "2 &times; $56.25 = <b>$112.50</b>" in html
        assert "(3 items)" in html and "Total <b>$119.50</b>" in html
        assert "Your cart is empty" in cart_html([], 0.0)

    def test_chat_text_and_notices_are_plain_text(self):
        assert message_html("1. <b>A</b>\n2. B & C") == "1. &lt;b&gt;A&lt;/b&gt;<br>2. B &amp; C"
        assert "&lt;script&gt;" in notices_html([HOSTILE]) and notices_html([]) == ""


class TestThumbnails:
    def test_catalog_photo_becomes_a_small_jpeg_data_url(self):
        photo = next(LUMA_IMAGES.rglob("*.jpg"))
        url = Thumbnails(size=120)(str(photo))
        assert url and url.startswith("data:image/jpeg;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert image.format == "JPEG" and max(image.size) <= 120
        assert thumbnail_data_url(ESHOP_PHOTO, 64).startswith("data:image/jpeg;base64,")

    def test_unreadable_or_missing_files_give_no_photo(self, tmp_path: Path):
        fake = tmp_path / "fake.jpg"
        fake.write_text("not an image")
        thumbnails = Thumbnails()
        assert thumbnails(str(fake)) is None
        assert thumbnails(str(tmp_path / "missing.jpg")) is None and thumbnails(None) is None


class TestTurns:
    def test_reply_streams_after_a_busy_frame_then_shows_cards_and_cart(self, assistant):
        frames = list(shop_for(assistant).turn(None, "show me women's jackets"))
        first, *streaming, final = frames
        assert first.busy is True and first.clear_inputs and first.panels is None
        assert first.history[-2] == {"role": "user", "content": "show me women&#x27;s jackets"}
        assert first.history[-1] == {"role": "assistant", "content": BUSY_HTML}
        texts = [f.history[-1]["content"] for f in streaming]
        assert len(texts) >= 3 and all(a != b for a, b in itertools.pairwise(texts))
        assert all(final.history[-1]["content"].startswith(t) for t in texts)
        assert final.busy is False and final.panels is not None
        state = assistant.state(final.view.session_id)
        assert card_ids(final.panels.cards) == [card.id for card in state.shown]
        assert "Your cart is empty" in final.panels.cart
        assert final.history[-1]["content"].startswith("Here are")

    def test_refine_add_with_a_size_and_cart_in_step(self, assistant):
        shop = shop_for(assistant)
        view = last(shop.turn(None, "show me women's jackets")).view
        blue = last(shop.turn(view, "in blue"))
        assert view.shelf and all("Blue" in item.card.colors for item in view.shelf)
        assert card_ids(blue.panels.cards) == [item.card.id for item in view.shelf]
        second = view.shelf[1].card
        asked = last(shop.card_action(view, "add", second.id))
        assert asked.history[-2]["content"] == "add #2 to my cart"
        assert "size" in asked.history[-1]["content"].lower()
        assert not assistant.state(view.session_id).cart
        added = last(shop.turn(view, "M"))
        (line,) = assistant.state(view.session_id).cart
        assert (line.product_id, line.size) == (second.id, "M")
        assert second.title in added.panels.cart and "size M" in added.panels.cart

    def test_more_like_this_and_thumbs(self, assistant):
        shop = shop_for(assistant)
        view = last(shop.turn(None, "men's hoodies")).view
        seed = view.shelf[0].card.id
        state = assistant.state(view.session_id)
        up = last(shop.card_action(view, "up", seed))
        assert state.liked == [seed] and up.history is None and up.busy is None
        assert re.search(r'data-action="up"[^>]*aria-pressed="true"', up.panels.cards)
        last(shop.card_action(view, "down", seed))
        assert (state.liked, state.disliked) == ([], [seed])
        last(shop.card_action(view, "down", seed))
        assert (state.liked, state.disliked) == ([], [])
        kinds = [e.kind for e in assistant.events.events(view.session_id) if e.product_id == seed]
        assert [str(k) for k in kinds[-3:]] == ["liked", "disliked", "cleared"]
        similar = last(shop.card_action(view, "more", seed))
        assert similar.history[-2]["content"] == "show me more like #1"
        assert assistant.state(view.session_id).similar_to == seed
        assert card_ids(similar.panels.cards) and seed not in card_ids(similar.panels.cards)

    def test_details_button_opens_the_product(self, assistant):
        shop = shop_for(assistant)
        view = last(shop.turn(None, "men's hoodies")).view
        second = view.shelf[1].card
        opened = last(shop.card_action(view, "details", second.id))
        assert opened.history[-2]["content"] == "tell me more about #2"
        assert second.title in opened.history[-1]["content"]
        assert assistant.state(view.session_id).focus == second.id

    def test_opting_out_keeps_thumbs_from_changing_results(self, assistant):
        shop = shop_for(assistant)
        view = last(shop.turn(None, "men's hoodies")).view
        first = view.shelf[0].card.id
        shop.set_personalise(view, False)
        last(shop.card_action(view, "down", first))
        again = last(shop.turn(view, "men's hoodies"))
        assert first in card_ids(again.panels.cards)
        assert assistant.events.events(view.session_id) == []
        shop.start_over(view)
        assert assistant.state(view.session_id).personalise is False

    def test_forged_or_stale_clicks_do_nothing(self, assistant):
        shop = shop_for(assistant)
        view = last(shop.turn(None, "men's hoodies")).view
        before = list(view.history)
        for action, product in (("add", "luma:not-shown"), ("delete", view.shelf[0].card.id)):
            (frame,) = shop.card_action(view, action, product)
            assert frame.history is None and frame.panels is None
        assert view.history == before and not assistant.state(view.session_id).cart

    def test_comparison_drawn_as_a_table_not_markdown(self, assistant):
        shop = shop_for(assistant)
        view = last(shop.turn(None, "men's jackets")).view
        compared = last(shop.turn(view, "compare the first two"))
        titles = [item.card.title for item in view.shelf[:2]]
        assert all(title in compared.panels.compare for title in titles)
        assert "<table>" in compared.panels.compare
        said = compared.history[-1]["content"]
        assert "|" not in said and COMPARE_NOTE in said
        new_search = last(shop.turn(view, "women's pants"))
        assert new_search.panels.compare == ""

    def test_start_over_forgets_dialogue_cart_and_screen(self, assistant):
        shop = shop_for(assistant)
        view = last(shop.turn(None, "watches")).view
        last(shop.turn(view, "add the first one"))
        assert assistant.state(view.session_id).cart
        frame = shop.start_over(view)
        assert frame.history == [] and frame.clear_inputs and frame.busy is False
        assert not view.shelf and not view.history
        assert not assistant.state(view.session_id).cart
        assert "Your cart is empty" in frame.panels.cart and "sa-empty" in frame.panels.cards

    def test_concurrent_sessions_each_get_their_own_answers(self, assistant):
        from concurrent.futures import ThreadPoolExecutor

        shop = shop_for(assistant)
        asks = ["watches", "men's hoodies", "women's jackets", "bags"] * 2

        def shop_once(text: str) -> tuple[str, object]:
            view = last(shop.turn(None, text)).view
            last(shop.turn(view, "add the first one"))
            return text, view

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(shop_once, asks))
        for text, view in results:
            said = [m["content"] for m in view.history if m["role"] == "assistant"]
            assert FAILURE not in said, text
            state = assistant.state(view.session_id)
            on_screen = [item.card.id for item in view.shelf]
            assert on_screen[: len(state.shown)] == [card.id for card in state.shown]
            assert all(line.product_id in on_screen for line in state.cart)
        assert len({view.session_id for _, view in results}) == len(asks)

    def test_sessions_do_not_share_state(self, assistant):
        shop = shop_for(assistant)
        one = last(shop.turn(None, "watches")).view
        last(shop.turn(one, "add the first one"))
        two = last(shop.turn(None, "men's hoodies"))
        assert one.session_id != two.view.session_id
        assert "Your cart is empty" in two.panels.cart
        assert (
            not assistant.state(two.view.session_id).cart and assistant.state(one.session_id).cart
        )
        assert two.view.history[0]["content"] == "men&#x27;s hoodies"

    def test_empty_input_does_nothing(self, assistant):
        (frame,) = shop_for(assistant).turn(None, "   ")
        assert frame.history is None and frame.busy is None

    def test_hostile_message_is_shown_as_text(self, assistant):
        final = last(shop_for(assistant).turn(None, HOSTILE))
        shown = final.history[0]["content"]
        assert "<script" not in shown and "<img" not in shown and "&lt;script&gt;" in shown
        assert final.busy is False and final.history[-1]["content"]

    def test_a_failing_turn_becomes_a_friendly_message(self, assistant, monkeypatch):
        def broken(*args, **kwargs):
            raise RuntimeError("index exploded\nTraceback (most recent call last)")

        monkeypatch.setattr(assistant, "respond", broken)
        final = last(shop_for(assistant).turn(None, "men's hoodies"))
        assert final.history[-1]["content"] == FAILURE and final.busy is False
        assert "Traceback" not in str(final.history) and "exploded" not in str(final.history)

    def test_unreadable_photo_gets_the_assistants_friendly_reply(self, assistant, tmp_path):
        fake = tmp_path / "photo.png"
        fake.write_text("not a picture")
        final = last(shop_for(assistant).turn(None, "like this", image=str(fake)))
        assert final.history[0]["content"] == "📷 (photo)<br>like this"
        said = final.history[-1]["content"]
        assert said and "Traceback" not in said and final.busy is False

    def test_photo_turn_shows_the_upload_in_the_shoppers_message(self, assistant):
        final = last(shop_for(assistant).turn(None, "", image=str(ESHOP_PHOTO)))
        assert final.history[0]["content"].startswith('<img src="data:image/jpeg;base64,')

    def test_voice_without_a_transcriber_asks_to_type(self, assistant, tmp_path):
        from dataclasses import replace

        quiet = Assistant(replace(assistant.settings, speech_backend="none"), assistant.stack)
        assert quiet.transcriber is None
        clip = tmp_path / "clip.wav"
        clip.write_bytes(b"RIFF")
        final = last(shop_for(quiet).turn(None, audio=str(clip)))
        assert final.history[0]["content"] == "🎤 (voice message)"
        assert "please type" in final.history[-1]["content"]

    def test_transcript_is_shown_as_the_shoppers_message_then_answered(self, assistant, tmp_path):
        # Stand-in for the speech module (assistant/speech/_transcribe.py): the UI only shows
        # what the assistant's transcriber returns.
        heard = Assistant(
            assistant.settings, assistant.stack, transcriber=lambda audio: "men's hoodies"
        )
        clip = tmp_path / "clip.wav"
        clip.write_bytes(b"RIFF")
        final = last(shop_for(heard).turn(None, audio=str(clip)))
        assert final.history[0]["content"] == "🎤 men&#x27;s hoodies"
        assert final.history[-1]["content"].startswith("Here are") and final.view.shelf


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestServe:
    def test_binds_to_localhost_and_requires_the_login_when_given(self, assistant):
        from ui import serve

        port = free_port()
        app = serve(assistant, port=port, auth=("shop", "s3cret"), block=False, quiet=True)
        try:
            assert app.server_name == "127.0.0.1"
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                assert client.get("/config").status_code == 401
                bad = client.post("/login", data={"username": "shop", "password": "nope"})
                assert bad.status_code == 400
                good = client.post("/login", data={"username": "shop", "password": "s3cret"})
                assert good.status_code == 200
                config = client.get("/config").json()
            chat = next(c for c in config["components"] if c["props"].get("elem_id") == "sa-chat")
            assert chat["props"]["render_markdown"] is False
            assert chat["props"]["sanitize_html"] is True
        finally:
            app.close()


class TestCli:
    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser()
        add_commands(parser.add_subparsers())
        return parser

    def test_serve_defaults_to_localhost(self, tmp_path):
        args = self.parser().parse_args(["serve"])
        assert (args.host, args.port, args.share, args.auth) == (None, None, False, None)
        defaults = Settings()
        assert (defaults.host, defaults.port, defaults.share) == ("127.0.0.1", 7860, False)
        config = tmp_path / "shopassist.yml"
        config.write_text("host: 127.0.0.2\nport: 8081\nshare: no\n")
        from assistant import load_settings

        configured = load_settings(config)
        assert (configured.host, configured.port, configured.share) == ("127.0.0.2", 8081, False)
        args = self.parser().parse_args(
            ["serve", "--host", "0.0.0.0", "--port", "8080", "--share", "--auth", "me:pa:ss"]
        )
        assert (args.host, args.port, args.share, args.auth) == (
            "0.0.0.0",
            8080,
            True,
            ("me", "pa:ss"),
        )

    @pytest.mark.parametrize("bad", ["nopass", ":pass", "user:"])
    def test_bad_auth_is_refused(self, bad):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_auth(bad)
        with pytest.raises(SystemExit):
            self.parser().parse_args(["serve", "--auth", bad])

    def test_empty_store_fails_before_loading_models(self, tmp_path, monkeypatch):
        monkeypatch.delenv(AUTH_ENV, raising=False)
        args = self.parser().parse_args(["serve"])
        with pytest.raises(ValueError, match="catalog store is empty"):
            args.handler(args, Settings(data_dir=tmp_path, image_model="none"))

    def test_bad_auth_from_the_environment_is_a_clear_error(self, tmp_path, monkeypatch):
        monkeypatch.setenv(AUTH_ENV, "no-colon")
        args = self.parser().parse_args(["serve"])
        with pytest.raises(ValueError, match=AUTH_ENV):
            args.handler(args, Settings(data_dir=tmp_path, image_model="none"))
