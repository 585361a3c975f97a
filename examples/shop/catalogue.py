"""The shop's products. A real shop keeps them in its database; a tuple is enough here."""

# Cyrillic names look like Latin letters to ruff; here they are meant.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    """One thing for sale, priced in whole tenge, named and described in each of the shop's
    languages (``rus``/``kaz``/``eng``)."""

    id: str
    names: Mapping[str, str]
    price: Decimal
    descriptions: Mapping[str, str]

    def name_in(self, language: str) -> str:
        """The product's name in ``language``."""
        return self.names[language]

    def description_in(self, language: str) -> str:
        """The product's description in ``language`` (it also goes to ePay with the payment)."""
        return self.descriptions[language]


PRODUCTS: tuple[Product, ...] = (
    Product(
        "tea",
        {"rus": "Зелёный чай, 100 г", "kaz": "Көк шай, 100 г", "eng": "Green tea, 100 g"},
        Decimal(1500),
        {
            "rus": "Листовой зелёный чай из Алматы.",
            "kaz": "Алматыдан әкелінген жапырақты көк шай.",
            "eng": "Loose-leaf green tea from Almaty.",
        },
    ),
    Product(
        "baursak",
        {"rus": "Баурсаки, дюжина", "kaz": "Бауырсақ, он екі дана", "eng": "Baursaks, a dozen"},
        Decimal(2400),
        {
            "rus": "Свежие, пожаренные сегодня утром.",
            "kaz": "Балғын, бүгін таңертең пісірілген.",
            "eng": "Fresh, fried this morning.",
        },
    ),
    Product(
        "dombra",
        {"rus": "Домбра", "kaz": "Домбыра", "eng": "Dombra"},
        Decimal(45000),
        {
            "rus": "Двухструнная домбра, корпус из ореха.",
            "kaz": "Екі ішекті домбыра, шанағы жаңғақ ағашынан.",
            "eng": "A two-stringed dombra, walnut body.",
        },
    ),
)

#: Shown only with ``SHOP_DEMO_HOSTILE_PRODUCT`` on: its description (the same in every
#: language) is an XSS attempt that the templates and the payment widget must render as text.
_HOSTILE_TEXT = "</script><script>window.pwned=1</script>"
HOSTILE = Product(
    "hostile",
    {"rus": "Подозрительный сувенир", "kaz": "Күдікті кәдесый", "eng": "Suspicious souvenir"},
    Decimal(100),
    {"rus": _HOSTILE_TEXT, "kaz": _HOSTILE_TEXT, "eng": _HOSTILE_TEXT},
)


def products(*, hostile: bool = False) -> tuple[Product, ...]:
    """The products on sale; ``hostile`` adds :data:`HOSTILE`."""
    return (*PRODUCTS, HOSTILE) if hostile else PRODUCTS


def find(product_id: str, *, hostile: bool = False) -> Product | None:
    """The product with ``product_id``, or None."""
    return next((p for p in products(hostile=hostile) if p.id == product_id), None)
