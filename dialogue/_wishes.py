"""What a shopper wants of the products: hard constraints, exclusions and soft preferences.

Their own module because both the dialogue state (which keeps them across turns) and the catalog
protocol (which sends them to the store) speak in them, and neither should import the other to
get them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar


@dataclass(frozen=True, slots=True)
class Constraints:
    """Hard constraints: every suggestion satisfies all of them (values in a field are OR-ed)."""

    categories: tuple[str, ...] = ()
    genders: tuple[str, ...] = ()
    colors: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    # The catalog's other filter attributes (CatalogPort.attributes): name -> values, one of
    # which a product carries ("material": ("cotton",), "pattern": ("striped",)).
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    labels: tuple[str, ...] = ()  # the store's own labels, all of them ("eco collection")
    price_min: float | None = None
    price_max: float | None = None
    price_below: bool = False  # "under 60": a product at exactly 60 is not under it
    min_rating: float | None = None
    on_sale: bool = False
    in_stock: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _non_empty(self.attributes))
        # No price is negative (or NaN): such a limit, from a forged Rasa slot or a caller's
        # bug, means no limit rather than a search that can only fail.
        for name in ("price_min", "price_max"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                object.__setattr__(self, name, None)

    def active(self) -> dict[str, Any]:
        """Every constraint set, an attribute under its own name ("pattern")."""
        return _active(self)

    def cleared(self, *names: str) -> Constraints:
        """Without these fields or attributes."""
        return _cleared(self, names)

    def values(self, name: str) -> tuple[str, ...]:
        """The values of a list field ("colors") or of an attribute ("pattern")."""
        return _values(self, name)

    def with_values(self, name: str, values: tuple[str, ...]) -> Constraints:
        return _with_values(self, name, values)


@dataclass(frozen=True, slots=True)
class Exclusions:
    """Negative constraints: "not black", "no hoodies", "anything but Zephyr", "not that one"."""

    colors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    # Filter attributes -> unwanted values ("pattern": ("striped",)).
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    product_ids: tuple[str, ...] = ()
    # "a bag, but not a backpack": the unwanted product's noun, inside a wanted category.
    kinds: tuple[str, ...] = ()
    on_sale: bool = False  # "not on clearance": the store's sale items left out

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _non_empty(self.attributes))

    def active(self) -> dict[str, Any]:
        return _active(self)

    def values(self, name: str) -> tuple[str, ...]:
        return _values(self, name)

    def with_values(self, name: str, values: tuple[str, ...]) -> Exclusions:
        return _with_values(self, name, values)


@dataclass(frozen=True, slots=True)
class Preferences:
    """Soft wishes that re-rank without excluding anything."""

    cheaper: bool = False
    brands: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    # The shopper's own words for the product kind ("headlamp", "chalk bag"): a category is
    # coarse (both are filed under a broad gear type), a title naming these ranks first.
    kinds: tuple[str, ...] = ()


_Filtering = TypeVar("_Filtering", "Constraints", "Exclusions")


def _non_empty(attributes: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Attribute -> a tuple of values, empty ones dropped (a lone string is one value)."""
    return {
        name: (values,) if isinstance(values, str) else tuple(values)
        for name, values in attributes.items()
        if values
    }


def _active(c: Constraints | Exclusions) -> dict[str, Any]:
    active: dict[str, Any] = {}
    for f in fields(c):
        value = getattr(c, f.name)
        if f.name == "attributes":
            active.update(value)
        # identity for False: a price limit of 0 is a constraint, and 0 == False
        elif value is not None and value is not False and value != ():
            active[f.name] = value
    return active


def _values(c: Constraints | Exclusions, name: str) -> tuple[str, ...]:
    if any(f.name == name for f in fields(c)):
        value = getattr(c, name)
        return value if isinstance(value, tuple) else ()
    return c.attributes.get(name, ())


def _with_values(c: _Filtering, name: str, values: tuple[str, ...]) -> _Filtering:
    if any(f.name == name for f in fields(c)):
        return replace(c, **{name: values})
    return replace(c, attributes={**c.attributes, name: values})


def _cleared(c: Constraints, names: tuple[str, ...]) -> Constraints:
    defaults = {f.name: f.default for f in fields(c) if f.name in names}
    attributes = {k: v for k, v in c.attributes.items() if k not in names}
    return replace(c, **defaults, attributes=attributes)
