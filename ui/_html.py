"""HTML for the shopper UI: product cards, the comparison table, the cart and chat messages.

Catalog text (titles, reasons, sizes, brands) and shopper text are untrusted: every value goes
through `html.escape` here, and nothing from the catalog or the shopper is ever inserted raw.
Photos arrive as `data:` URLs made by `ui._images`, so no local path reaches the page.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from assistant import CartLine, Comparison, ProductCard, money

# At most this many colours are listed on a card; the rest are counted.
MAX_COLOURS = 8
# Card buttons: (action, label). The action names are what the click handler receives.
TURN_ACTIONS = (("details", "Details"), ("more", "More like this"), ("add", "Add to cart"))
FEEDBACK_ACTIONS = (("up", "I like this"), ("down", "Not for me"))
ACTIONS = frozenset(action for action, _ in (*TURN_ACTIONS, *FEEDBACK_ACTIONS))
# Material Design "thumb up" (Apache-2.0), drawn inline: no icon or emoji font needed.
THUMB_SVG = (
    '<svg viewBox="0 0 24 24" width="15" height="15" aria-hidden="true"><path fill="currentColor" '
    'd="M2 21h4V9H2v12zm20-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L13.17 '
    "1 6.59 7.59C6.22 7.95 6 8.45 6 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-"
    '.23.14-.47.14-.73v-2z"/></svg>'
)

Thumbnail = Callable[[str | None], str | None]


@dataclass(frozen=True, slots=True)
class ShelfItem:
    """A product card on screen: the card, its one-line reason and the number the reply gave
    it. Alternatives are near misses whose reason says what they miss."""

    card: ProductCard
    reason: str
    number: int
    alternative: bool = False


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def message_html(text: str) -> str:
    """Plain text for a chat bubble: escaped, line breaks kept (the chat renders no Markdown)."""
    return "<br>".join(esc(line) for line in text.split("\n"))


def price_html(card: ProductCard) -> str:
    """The price; on sale, the sale price with the regular price struck through."""
    now = esc(money(card.price, card.currency))
    prefix = "from " if card.price_is_from and card.price is not None else ""
    if card.regular_price is not None and card.price is not None:
        was = esc(money(card.regular_price, card.currency))
        return (
            f'<span class="sa-price sa-sale">{prefix}<span class="sa-now">{now}</span> '
            f'<s class="sa-was" aria-label="regular price {was}">{was}</s></span>'
        )
    return f'<span class="sa-price">{prefix}<span class="sa-now">{now}</span></span>'


def sizes_html(card: ProductCard) -> str:
    """Every size; sizes out of stock are struck through (the dialogue only sells in-stock
    variants)."""
    if not card.sizes:
        return ""
    in_stock = {s.lower() for s in card.in_stock_sizes} if card.in_stock_sizes else None
    chips = []
    for size in card.sizes:
        if in_stock is None or size.lower() in in_stock:
            chips.append(f'<span class="sa-chip">{esc(size)}</span>')
        else:
            chips.append(f'<s class="sa-chip sa-out" title="out of stock">{esc(size)}</s>')
    return f'<div class="sa-sizes"><span class="sa-label">Sizes</span> {" ".join(chips)}</div>'


def colours_html(card: ProductCard) -> str:
    colours = list(card.offered_colors)
    if not colours:
        return ""
    shown = ", ".join(esc(c) for c in colours[:MAX_COLOURS])
    more = f" +{len(colours) - MAX_COLOURS} more" if len(colours) > MAX_COLOURS else ""
    return f'<div class="sa-colours"><span class="sa-label">Colours</span> {shown}{more}</div>'


def rating_html(card: ProductCard) -> str:
    if card.rating is None:
        return '<div class="sa-rating sa-muted">No reviews yet</div>'
    count = card.review_count
    reviews = f"{count} review{'s' if count != 1 else ''}"
    return (
        f'<div class="sa-rating" aria-label="rated {card.rating:.1f} out of 5">'
        f'★ {card.rating:.1f} <span class="sa-muted">({reviews})</span></div>'
    )


def card_html(
    item: ShelfItem,
    *,
    position: int | None,
    feedback: int = 0,
    focus: bool = False,
    image: str | None = None,
) -> str:
    """One product card. `position` is the item's place in the dialogue's shown list (what
    "#N" means to the assistant); without one, the card has no turn buttons because the
    dialogue could not resolve a reference to it."""
    card = item.card
    classes = ["sa-card"]
    if item.alternative:
        classes.append("sa-alt")
    if focus:
        classes.append("sa-focus")
    alt = f"{card.title} in {card.image_color}" if card.image_color else card.title
    photo = (
        f'<img class="sa-photo" src="{esc(image)}" alt="{esc(alt)}" loading="lazy">'
        if image
        else '<div class="sa-photo sa-nophoto">No photo</div>'
    )
    brand = f'<div class="sa-brand sa-muted">{esc(card.brand)}</div>' if card.brand else ""
    stock = "" if card.in_stock else '<div class="sa-stock">Out of stock</div>'
    badge = '<span class="sa-badge">Close match</span>' if item.alternative else ""
    thumbs = "".join(
        _thumb(action, label, feedback == (1 if action == "up" else -1))
        for action, label in FEEDBACK_ACTIONS
    )
    actions = (
        '<div class="sa-actions">'
        + "".join(
            f'<button type="button" class="sa-btn" data-action="{action}">{label}</button>'
            for action, label in TURN_ACTIONS
        )
        + "</div>"
        if position is not None
        else ""
    )
    return (
        f'<article class="{" ".join(classes)}" data-product="{esc(card.id)}" '
        f'data-number="{item.number}">'
        f'<div class="sa-top"><span class="sa-num">#{item.number}</span>{badge}'
        f'<span class="sa-thumbs">{thumbs}</span></div>'
        f"{photo}"
        f'<h4 class="sa-title">{esc(card.title)}</h4>{brand}'
        f"{price_html(card)}{stock}{sizes_html(card)}{colours_html(card)}{rating_html(card)}"
        f'<p class="sa-why"><span class="sa-label">Why this</span> {esc(item.reason)}</p>'
        f"{actions}</article>"
    )


def _thumb(action: str, label: str, pressed: bool) -> str:
    on = " sa-on" if pressed else ""
    return (
        f'<button type="button" class="sa-btn sa-fb sa-{action}{on}" data-action="{action}" '
        f'title="{label}" aria-label="{label}" aria-pressed="{str(pressed).lower()}">'
        f"{THUMB_SVG}</button>"
    )


def cards_html(
    items: Sequence[ShelfItem],
    *,
    positions: Mapping[str, int],
    feedback: Mapping[str, int],
    focus: str | None = None,
    thumbnail: Thumbnail = lambda _: None,
) -> str:
    """The suggestions of the latest reply, then its close alternatives."""
    if not items:
        return (
            '<div class="sa-empty">Products will appear here. Try '
            "“women&rsquo;s jackets under $60”, or upload a photo.</div>"
        )
    sections = []
    for alternative, title in ((False, "Suggestions"), (True, "Close alternatives")):
        group = [i for i in items if i.alternative == alternative]
        if not group:
            continue
        cards = "".join(
            card_html(
                item,
                position=positions.get(item.card.id),
                feedback=feedback.get(item.card.id, 0),
                focus=item.card.id == focus,
                image=thumbnail(item.card.image),
            )
            for item in group
        )
        note = '<p class="sa-muted">Each says what it misses.</p>' if alternative else ""
        sections.append(
            f'<section class="sa-shelf{" sa-alts" if alternative else ""}">'
            f'<h3>{title}</h3>{note}<div class="sa-grid">{cards}</div></section>'
        )
    return "".join(sections)


def compare_html(comparison: Comparison | None, *, images: Sequence[str | None] = ()) -> str:
    """The dialogue's comparison table, one column per product, photos on top."""
    if comparison is None:
        return ""
    photos = list(images) + [None] * (len(comparison.titles) - len(images))
    head = "".join(
        '<th scope="col">'
        + (f'<img src="{esc(src)}" alt="">' if src else "")
        + f"<span>{esc(title)}</span></th>"
        for title, src in zip(comparison.titles, photos, strict=False)
    )
    body = "".join(
        f'<tr><th scope="row">{esc(label)}</th>'
        + "".join(f"<td>{esc(value)}</td>" for value in values)
        + "</tr>"
        for label, values in comparison.rows
    )
    return (
        '<section class="sa-compare"><h3>Comparison</h3><div class="sa-scroll">'
        f"<table><thead><tr><td></td>{head}</tr></thead><tbody>{body}</tbody></table>"
        "</div></section>"
    )


def cart_html(lines: Sequence[CartLine], total: float) -> str:
    """The cart as the dialogue state holds it."""
    if not lines:
        return (
            '<section class="sa-cart"><h3>Cart</h3>'
            '<p class="sa-muted">Your cart is empty.</p></section>'
        )
    rows = []
    for line in lines:
        options = ", ".join(v for v in (line.color, line.size and f"size {line.size}") if v)
        rows.append(
            f'<li class="sa-line" data-product="{esc(line.product_id)}">'
            f'<span class="sa-line-title">{esc(line.title)}</span>'
            + (
                f' <span class="sa-muted sa-line-options">({esc(options)})</span>'
                if options
                else ""
            )
            + (
                ' <span class="sa-line-gone">no longer in our catalog: please remove it</span>'
                if line.removed
                else ""
            )
            + f'<span class="sa-line-price">{line.quantity} &times; {esc(money(line.unit_price))}'
            f" = <b>{esc(money(line.total))}</b></span></li>"
        )
    count = sum(line.quantity for line in lines)
    return (
        f'<section class="sa-cart"><h3>Cart <span class="sa-muted">({count} '
        f"item{'s' if count != 1 else ''})</span></h3>"
        f"<ul>{''.join(rows)}</ul>"
        f'<p class="sa-total">Total <b>{esc(money(total))}</b></p>'
        '<p class="sa-muted">Ask in the chat to remove an item or to check out.</p></section>'
    )


def notices_html(notices: Sequence[str]) -> str:
    """Notices beside the chat: what a catalog update changed in the shopper's cart (a new
    price, a product no longer sold) and operator notices (a broken prompts/ edit)."""
    if not notices:
        return ""
    items = "".join(f"<li>{esc(n)}</li>" for n in notices)
    return f'<div class="sa-notices" role="status"><ul>{items}</ul></div>'


CARDS_CSS = """
.sa-empty { padding: 16px; color: var(--body-text-color-subdued); }
.sa-shelf h3, .sa-compare h3, .sa-cart h3 { margin: 8px 0; font-size: 1.05em; }
.sa-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr));
  gap: 12px; }
.sa-card { position: relative; display: flex; flex-direction: column; gap: 4px; padding: 10px;
  border: 1px solid var(--border-color-primary); border-radius: 10px;
  background: var(--background-fill-primary); color: var(--body-text-color); }
.sa-card.sa-focus { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent); }
.sa-card.sa-alt { border-style: dashed; }
.sa-top { display: flex; gap: 6px; align-items: center; }
.sa-thumbs { margin-left: auto; display: flex; gap: 4px; }
.sa-fb { padding: 2px 6px; line-height: 0; }
.sa-down svg { transform: rotate(180deg); }
.sa-num { font-weight: 600; }
.sa-badge { font-size: 0.75em; padding: 1px 6px; border-radius: 8px;
  background: var(--background-fill-secondary); }
.sa-photo { width: 100%; aspect-ratio: 1 / 1; object-fit: contain; border-radius: 6px;
  background: #fff; }
.sa-nophoto { display: flex; align-items: center; justify-content: center;
  color: var(--body-text-color-subdued); background: var(--background-fill-secondary); }
.sa-title { margin: 4px 0 0; font-size: 1em; line-height: 1.25; }
.sa-price { font-weight: 600; }
.sa-sale .sa-now { color: var(--color-red-600, #c0392b); }
.sa-was { font-weight: 400; color: var(--body-text-color-subdued); }
.sa-label { font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.03em;
  color: var(--body-text-color-subdued); margin-right: 4px; }
.sa-sizes, .sa-colours, .sa-rating, .sa-brand, .sa-stock { font-size: 0.9em; }
.sa-chip { display: inline-block; padding: 0 5px; margin: 1px; border-radius: 4px;
  border: 1px solid var(--border-color-primary); }
.sa-out { opacity: 0.5; }
.sa-stock { color: var(--color-red-600, #c0392b); }
.sa-muted { color: var(--body-text-color-subdued); }
.sa-why { font-size: 0.88em; margin: 4px 0; flex: 1; }
.sa-actions { display: flex; flex-wrap: wrap; gap: 4px; }
.sa-btn { cursor: pointer; padding: 3px 8px; border-radius: 6px; font-size: 0.85em;
  border: 1px solid var(--border-color-primary);
  background: var(--button-secondary-background-fill); color: var(--button-secondary-text-color); }
.sa-btn:hover { border-color: var(--color-accent); }
.sa-btn.sa-on { background: var(--color-accent); color: #fff; }
"""

PANEL_CSS = """
.sa-compare table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
.sa-compare th, .sa-compare td { border: 1px solid var(--border-color-primary); padding: 4px 8px;
  text-align: left; vertical-align: top; }
.sa-compare thead img { display: block; width: 90px; height: 90px; object-fit: contain;
  background: #fff; border-radius: 4px; }
.sa-scroll { overflow-x: auto; }
.sa-cart ul { list-style: none; padding: 0; margin: 0; }
.sa-line { display: flex; flex-wrap: wrap; gap: 4px; padding: 6px 0;
  border-bottom: 1px solid var(--border-color-primary); }
.sa-line-price { margin-left: auto; }
.sa-line-gone { color: var(--error-text-color, #b91c1c); font-weight: 600; }
.sa-total { text-align: right; margin: 6px 0; }
.sa-muted { color: var(--body-text-color-subdued); }
.sa-notices { font-size: 0.85em; color: var(--body-text-color-subdued); }
"""
