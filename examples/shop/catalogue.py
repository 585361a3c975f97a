"""The shop's products. A real shop keeps them in its database; a tuple is enough here."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    """One thing for sale, priced in whole tenge."""

    id: str
    name: str
    price: Decimal
    description: str


PRODUCTS: tuple[Product, ...] = (
    Product("tea", "Green tea, 100 g", Decimal(1500), "Loose-leaf green tea from Almaty."),
    Product("baursak", "Baursaks, a dozen", Decimal(2400), "Fresh, fried this morning."),
    Product("dombra", "Dombra", Decimal(45000), "A two-stringed dombra, walnut body."),
)

#: Shown only with ``SHOP_DEMO_HOSTILE_PRODUCT`` on: its description is an XSS attempt that the
#: templates and the payment widget must render as plain text.
HOSTILE = Product(
    "hostile",
    "Suspicious souvenir",
    Decimal(100),
    "</script><script>window.pwned=1</script>",
)


def products(*, hostile: bool = False) -> tuple[Product, ...]:
    """The products on sale; ``hostile`` adds :data:`HOSTILE`."""
    return (*PRODUCTS, HOSTILE) if hostile else PRODUCTS


def find(product_id: str, *, hostile: bool = False) -> Product | None:
    """The product with ``product_id``, or None."""
    return next((p for p in products(hostile=hostile) if p.id == product_id), None)
