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
    # What the widget's callback says: a hint until the ledger knows.
    "hint_success": {
        "rus": "Форма банка сообщает об успехе; ждём подтверждения от банка…",
        "kaz": "Банк формасы сәтті өткенін хабарлады; банктің растауын күтудеміз…",
        "eng": "The bank's form reports success; waiting for the bank's confirmation…",
    },
    "hint_failure": {
        "rus": "Оплата не прошла.",
        "kaz": "Төлем өтпеді.",
        "eng": "The payment did not go through.",
    },
    # What the ledger says, once it is final.
    "message_authorized": {
        "rus": "Оплата подтверждена: сумма заблокирована на карте, пока магазин не подтвердит"
        " заказ.",
        "kaz": "Төлем расталды: дүкен тапсырысты растағанша сома картада бұғатталған.",
        "eng": "Payment authorised: the amount is held on your card until the shop confirms the"
        " order.",
    },
    "message_paid": {
        "rus": "Оплата получена. Спасибо!",
        "kaz": "Төлем қабылданды. Рақмет!",
        "eng": "Payment received. Thank you!",
    },
    "message_failed": {
        "rus": "Банк отклонил платёж",
        "kaz": "Банк төлемді қабылдамады",
        "eng": "The bank declined the payment",
    },
    "message_cancelled": {
        "rus": "Платёж отменён.",
        "kaz": "Төлем болдырылмады.",
        "eng": "The payment was cancelled.",
    },
    "message_partially_refunded": {
        "rus": "Часть платежа возвращена.",
        "kaz": "Төлемнің бір бөлігі қайтарылды.",
        "eng": "Part of the payment was refunded.",
    },
    "message_refunded": {
        "rus": "Платёж возвращён.",
        "kaz": "Төлем қайтарылды.",
        "eng": "The payment was refunded.",
    },
}


def language() -> str:
    """The visitor's language (``rus``/``kaz``/``eng``)."""
    chosen = session.get("language")
    return chosen if chosen in LANGUAGES else DEFAULT


def text(key: str, language: str) -> str:
    """The label ``key`` in ``language`` (``rus``/``kaz``/``eng``)."""
    return _LABELS[key][language]


def label(key: str) -> str:
    """The label ``key`` in the visitor's language."""
    return text(key, language())
