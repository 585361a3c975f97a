"""The shop's few labels in Russian, Kazakh and English. The chosen language also goes to ePay,
so the payment page speaks it too."""

# Cyrillic labels look like Latin letters to ruff; here they are meant.
# ruff: noqa: RUF001

from __future__ import annotations

from flask import session

LANGUAGES = {"rus": "Рус", "kaz": "Қаз", "eng": "Eng"}
DEFAULT = "rus"

_LABELS: dict[str, dict[str, str]] = {
    "catalogue": {"rus": "Каталог", "kaz": "Каталог", "eng": "Catalogue"},
    "buy": {"rus": "Купить", "kaz": "Сатып алу", "eng": "Buy"},
    "checkout": {"rus": "Оформление заказа", "kaz": "Тапсырыс беру", "eng": "Checkout"},
    "order": {"rus": "Заказ", "kaz": "Тапсырыс", "eng": "Order"},
    "pay_widget": {"rus": "Оплатить картой", "kaz": "Картамен төлеу", "eng": "Pay by card"},
    "pay_redirect": {
        "rus": "Оплатить на странице банка",
        "kaz": "Банк бетінде төлеу",
        "eng": "Pay on the bank's page",
    },
    "status": {"rus": "Статус", "kaz": "Күйі", "eng": "Status"},
    "refresh": {"rus": "Обновить", "kaz": "Жаңарту", "eng": "Refresh"},
    "retry": {"rus": "Попробовать снова", "kaz": "Қайталау", "eng": "Try again"},
}


def language() -> str:
    """The visitor's language (``rus``/``kaz``/``eng``)."""
    chosen = session.get("language")
    return chosen if chosen in LANGUAGES else DEFAULT


def label(key: str) -> str:
    """The label ``key`` in the visitor's language."""
    return _LABELS[key][language()]
