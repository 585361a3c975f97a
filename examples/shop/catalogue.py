"""The shop's products. A real shop keeps them in its database; a tuple is enough here."""

# Cyrillic names look like Latin letters to ruff; here they are meant.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    """One thing for sale, priced in ``currency`` (tenge unless said), named and described in
    each of the shop's languages (``rus``/``kaz``/``eng``). A product in another currency is
    paid on the merchant that takes it (``HALYK_MERCHANTS``)."""

    id: str
    names: Mapping[str, str]
    price: Decimal
    descriptions: Mapping[str, str]
    currency: str = "KZT"

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
    Product(
        "dombra-export",
        {"rus": "Домбра на экспорт", "kaz": "Экспортқа домбыра", "eng": "Dombra for export"},
        Decimal(120),
        {
            "rus": "Домбра в кофре, доставка за рубеж; оплата в долларах США.",
            "kaz": "Қаптағы домбыра, шетелге жеткізу; төлем АҚШ долларымен.",
            "eng": "A dombra in a hard case, shipped abroad; paid in US dollars.",
        },
        currency="USD",
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


def products(*, hostile: bool = False,
             currencies: Collection[str] | None = None) -> tuple[Product, ...]:
    """The products on sale; ``hostile`` adds :data:`HOSTILE`; ``currencies`` (the currencies
    the shop's merchants take) leaves out a product no merchant could be paid for."""
    found = (*PRODUCTS, HOSTILE) if hostile else PRODUCTS
    if currencies is None:
        return found
    return tuple(p for p in found if p.currency in currencies)


def find(product_id: str, *, hostile: bool = False,
         currencies: Collection[str] | None = None) -> Product | None:
    """The product with ``product_id`` (on sale in one of ``currencies``), or None."""
    return next((p for p in products(hostile=hostile, currencies=currencies)
                 if p.id == product_id), None)
