"""The payment page's texts in the three languages the bank's page speaks."""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, dict[str, str]] = {
    "rus": {
        "title": "Оплата картой", "merchant": "Магазин", "amount": "Сумма",
        "description": "Описание", "invoice": "Номер заказа", "pan": "Номер карты",
        "expiry": "Срок действия (ММ/ГГ)",  # noqa: RUF001 - Cyrillic on purpose
        "expiry_placeholder": "ММ/ГГ",  # noqa: RUF001 - Cyrillic on purpose
        "cvc": "CVC", "holder": "Имя владельца",
        "pay": "Оплатить", "sandbox": "SANDBOX: тестовая среда, деньги не списываются",
        "err_pan": "Неверный номер карты", "err_expiry": "Неверный срок действия",
        "err_cvc": "CVC: 3 цифры", "err_holder": "Укажите имя владельца",
        "3ds_title": "3-D Secure", "3ds_prompt": "Введите код подтверждения из SMS",
        "3ds_submit": "Подтвердить", "success": "Оплата прошла успешно",
        "failure": "Оплата не прошла", "back": "Вернуться в магазин",
        "save_card": "Сохранить карту для следующих оплат",
        "error_title": "Оплата невозможна",
        "qr_title": "Оплата по QR (Homebank)", "qr_pay": "Оплатить в Homebank",
        "qr_reject": "Отказаться", "qr_paid": "QR оплачен", "qr_rejected": "QR отклонён",
    },
    "kaz": {
        "title": "Картамен төлеу", "merchant": "Дүкен", "amount": "Сома",
        "description": "Сипаттама", "invoice": "Тапсырыс нөмірі", "pan": "Карта нөмірі",
        "expiry": "Жарамдылық мерзімі (АА/ЖЖ)",  # noqa: RUF001 - Cyrillic on purpose
        "expiry_placeholder": "АА/ЖЖ",  # noqa: RUF001 - Cyrillic on purpose
        "cvc": "CVC", "holder": "Карта иесінің аты",
        "pay": "Төлеу", "sandbox": "SANDBOX: сынақ ортасы, ақша алынбайды",
        "err_pan": "Карта нөмірі қате", "err_expiry": "Жарамдылық мерзімі қате",
        "err_cvc": "CVC: 3 сан", "err_holder": "Карта иесінің атын енгізіңіз",
        "3ds_title": "3-D Secure", "3ds_prompt": "SMS-тегі растау кодын енгізіңіз",
        "3ds_submit": "Растау", "success": "Төлем сәтті өтті", "failure": "Төлем өтпеді",
        "back": "Дүкенге оралу", "error_title": "Төлеу мүмкін емес",
        "save_card": "Картаны келесі төлемдер үшін сақтау",
        "qr_title": "QR арқылы төлеу (Homebank)", "qr_pay": "Homebank-те төлеу",
        "qr_reject": "Бас тарту", "qr_paid": "QR төленді", "qr_rejected": "QR қабылданбады",
    },
    "eng": {
        "title": "Card payment", "merchant": "Merchant", "amount": "Amount",
        "description": "Description", "invoice": "Order number", "pan": "Card number",
        "expiry": "Expiry (MM/YY)", "expiry_placeholder": "MM/YY", "cvc": "CVC",
        "holder": "Cardholder name",
        "pay": "Pay", "sandbox": "SANDBOX: test environment, no money moves",
        "err_pan": "Invalid card number", "err_expiry": "Invalid expiry date",
        "err_cvc": "CVC: 3 digits", "err_holder": "Enter the cardholder name",
        "3ds_title": "3-D Secure", "3ds_prompt": "Enter the confirmation code from the SMS",
        "3ds_submit": "Confirm", "success": "Payment successful", "failure": "Payment failed",
        "back": "Back to the shop", "error_title": "Payment is not possible",
        "save_card": "Save the card for future payments",
        "qr_title": "Pay by QR (Homebank)", "qr_pay": "Pay in Homebank",
        "qr_reject": "Decline", "qr_paid": "QR paid", "qr_rejected": "QR rejected",
    },
}

_ALIASES = {"ru": "rus", "kz": "kaz", "kk": "kaz", "en": "eng"}


def language(value: Any) -> str:
    """``rus``/``kaz``/``eng`` from any spelling the bank meets (``RUS``, ``RU``, ...)."""
    code = str(value or "rus").strip().lower()
    code = _ALIASES.get(code, code)
    return code if code in TEXTS else "rus"
