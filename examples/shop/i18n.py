"""The shop's few labels in Russian, Kazakh and English. The chosen language also goes to ePay,
so the payment page speaks it too."""

# Cyrillic labels look like Latin letters to ruff; here they are meant.
# ruff: noqa: RUF001

from __future__ import annotations

from decimal import Decimal

from flask import session

LANGUAGES = {"rus": "Рус", "kaz": "Қаз", "eng": "Eng"}
DEFAULT = "rus"
#: The sandbox's published approving card, in groups that never wrap apart.
_TEST_CARD = "\u00a0".join(("4405", "6397", "0401", "5096"))

_LABELS: dict[str, dict[str, str]] = {
    "catalogue": {"rus": "Каталог", "kaz": "Каталог", "eng": "Catalogue"},
    "buy": {"rus": "Купить", "kaz": "Сатып алу", "eng": "Buy"},
    "checkout": {"rus": "Оформление заказа", "kaz": "Тапсырыс беру", "eng": "Checkout"},
    "place_order": {"rus": "Перейти к оплате", "kaz": "Төлеуге өту", "eng": "Continue to payment"},
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
    "language": {"rus": "Язык", "kaz": "Тіл", "eng": "Language"},
    "admin": {"rus": "Админка", "kaz": "Әкімші", "eng": "Admin"},
    "footer": {
        "rus": "Пример магазина для flask-halyk.",
        "kaz": "flask-halyk үшін үлгі дүкен.",
        "eng": "Example shop for flask-halyk.",
    },
    "sandbox": {
        "rus": "Песочница: настоящие деньги не списываются.",
        "kaz": "Құмсалғыш: нақты ақша алынбайды.",
        "eng": "Sandbox: no real money moves.",
    },
    # The published test card (docs/sandbox.md), so that a newcomer can pay at once.
    "sandbox_card": {
        "rus": f"Тестовая карта {_TEST_CARD}: любой будущий срок, любой трёхзначный код.",
        "kaz": f"Сынақ картасы {_TEST_CARD}: кез келген болашақ мерзім, кез келген үш таңбалы"
        " код.",
        "eng": f"Test card {_TEST_CARD}: any future expiry, any three-digit code.",
    },
    # The checkout form's fields, and what to fix when one is refused.
    "field_quantity": {"rus": "Количество", "kaz": "Саны", "eng": "Quantity"},
    "field_name": {"rus": "Имя", "kaz": "Аты", "eng": "Name"},
    "field_email": {"rus": "Эл. почта", "kaz": "Эл. пошта", "eng": "Email"},
    "field_phone": {"rus": "Телефон", "kaz": "Телефон", "eng": "Phone"},
    "field_language": {"rus": "Язык оплаты", "kaz": "Төлем тілі", "eng": "Payment language"},
    "invalid_quantity": {
        "rus": "Укажите количество от 1 до 10.",
        "kaz": "1-ден 10-ға дейінгі санды көрсетіңіз.",
        "eng": "Enter a quantity from 1 to 10.",
    },
    "invalid_name": {
        "rus": "Проверьте имя.", "kaz": "Атыңызды тексеріңіз.", "eng": "Check the name.",
    },
    "invalid_email": {
        "rus": "Проверьте адрес эл. почты.",
        "kaz": "Эл. пошта мекенжайын тексеріңіз.",
        "eng": "Check the email address.",
    },
    "invalid_phone": {
        "rus": "Проверьте номер телефона.",
        "kaz": "Телефон нөмірін тексеріңіз.",
        "eng": "Check the phone number.",
    },
    "invalid_language": {
        "rus": "Выберите язык из списка.",
        "kaz": "Тізімнен тілді таңдаңыз.",
        "eng": "Choose a language from the list.",
    },
    "payment_not_started": {
        "rus": "Не удалось начать оплату. Попробуйте ещё раз через минуту.",
        "kaz": "Төлемді бастау мүмкін болмады. Бір минуттан кейін қайталап көріңіз.",
        "eng": "The payment could not be started. Please try again in a minute.",
    },
    "nothing_to_retry": {
        "rus": "В этом заказе нет отклонённого платежа, который можно повторить.",
        "kaz": "Бұл тапсырыста қайталайтын қабылданбаған төлем жоқ.",
        "eng": "This order has no failed payment to retry.",
    },
    # The order's status (the ledger's PaymentStatus, and "none" before any payment).
    "status_none": {"rus": "нет платежа", "kaz": "төлем жоқ", "eng": "no payment"},
    "status_new": {"rus": "ожидает оплаты", "kaz": "төлемді күтуде", "eng": "awaiting payment"},
    "status_authorized": {"rus": "сумма заблокирована", "kaz": "сома бұғатталды",
                          "eng": "authorised"},
    "status_paid": {"rus": "оплачен", "kaz": "төленді", "eng": "paid"},
    "status_failed": {"rus": "отклонён", "kaz": "қабылданбады", "eng": "declined"},
    "status_cancelled": {"rus": "отменён", "kaz": "болдырылмады", "eng": "cancelled"},
    "status_partially_refunded": {"rus": "частично возвращён", "kaz": "ішінара қайтарылды",
                                  "eng": "partially refunded"},
    "status_refunded": {"rus": "возвращён", "kaz": "қайтарылды", "eng": "refunded"},
    "status_expired": {"rus": "срок оплаты истёк", "kaz": "төлем мерзімі өтті", "eng": "expired"},
    "refunded_amount": {"rus": "возвращено", "kaz": "қайтарылды", "eng": "refunded"},
    "fulfilled": {
        "rus": "Ваш заказ уже в пути.", "kaz": "Тапсырысыңыз жолда.",
        "eng": "Your order is on its way.",
    },
    # The back office.
    "payments": {"rus": "Платежи", "kaz": "Төлемдер", "eng": "Payments"},
    "column_invoice": {"rus": "Счёт", "kaz": "Шот", "eng": "Invoice"},
    "column_created": {"rus": "Создан", "kaz": "Құрылды", "eng": "Created"},
    "column_amount": {"rus": "Сумма", "kaz": "Сомасы", "eng": "Amount"},
    "column_status": {"rus": "Статус", "kaz": "Күйі", "eng": "Status"},
    "column_refunded": {"rus": "Возвращено", "kaz": "Қайтарылды", "eng": "Refunded"},
    "column_card": {"rus": "Карта", "kaz": "Карта", "eng": "Card"},
    "column_operations": {"rus": "Операции", "kaz": "Операциялар", "eng": "Operations"},
    "no_payments": {"rus": "Платежей пока нет.", "kaz": "Әзірге төлем жоқ.",
                    "eng": "No payments yet."},
    "amount": {"rus": "сумма", "kaz": "сома", "eng": "amount"},
    "amount_to_refund": {"rus": "Сумма возврата", "kaz": "Қайтару сомасы",
                         "eng": "Amount to refund"},
    "action_refund": {"rus": "возврат", "kaz": "қайтару", "eng": "refund"},
    "action_partial_refund": {"rus": "частичный возврат", "kaz": "ішінара қайтару",
                              "eng": "partial refund"},
    "action_cancel": {"rus": "отмена", "kaz": "болдырмау", "eng": "cancel"},
    "action_charge": {"rus": "списание", "kaz": "есептен шығару", "eng": "charge"},
    "not_an_amount": {"rus": "«{amount}» — не сумма.", "kaz": "«{amount}» сома емес.",
                      "eng": "“{amount}” is not an amount."},
    "operation_done": {
        "rus": "Счёт {invoice}: операция «{action}» выполнена.",
        "kaz": "{invoice} шоты: «{action}» операциясы орындалды.",
        "eng": "Invoice {invoice}: {action} done.",
    },
    "operation_refused": {
        "rus": "Счёт {invoice}: операция «{action}» отклонена: {error}",
        "kaz": "{invoice} шоты: «{action}» операциясы қабылданбады: {error}",
        "eng": "Invoice {invoice}: {action} refused: {error}",
    },
    # Why (by the kind of error; its own English text goes to the log).
    "refused_state": {
        "rus": "платёж в состоянии, в котором это невозможно.",
        "kaz": "төлемнің күйі бұған мүмкіндік бермейді.",
        "eng": "the payment's state does not allow it.",
    },
    "refused_amount": {
        "rus": "неверная сумма.", "kaz": "сома қате.", "eng": "the amount is not valid.",
    },
    "refused_not_found": {
        "rus": "такого платежа нет.", "kaz": "мұндай төлем жоқ.", "eng": "no such payment.",
    },
    "refused_bank": {
        "rus": "банк отказал.", "kaz": "банк бас тартты.", "eng": "the bank refused it.",
    },
    "refused_unreachable": {
        "rus": "банк недоступен, попробуйте позже.",
        "kaz": "банкке қосылу мүмкін емес, кейінірек қайталаңыз.",
        "eng": "the bank could not be reached; try again later.",
    },
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
    # Why the bank declined (by reasonCode, see declines.py): what the customer can do.
    "reason_card_number": {
        "rus": "проверьте номер карты",
        "kaz": "карта нөмірін тексеріңіз",
        "eng": "check the card number",
    },
    "reason_expiry": {
        "rus": "неверный срок действия карты",
        "kaz": "картаның жарамдылық мерзімі қате",
        "eng": "the expiry date is wrong",
    },
    "reason_issuer": {
        "rus": "банк, выпустивший карту, отклонил операцию",
        "kaz": "картаны шығарған банк операцияны қабылдамады",
        "eng": "the bank that issued the card declined it",
    },
    "reason_card_blocked": {
        "rus": "карта заблокирована",
        "kaz": "карта бұғатталған",
        "eng": "the card is blocked",
    },
    "reason_secure_code": {
        "rus": "неверный код подтверждения 3-D Secure",
        "kaz": "3-D Secure растау коды қате",
        "eng": "the 3-D Secure code was wrong",
    },
    "reason_retry_later": {
        "rus": "повторите попытку через 30 минут",
        "kaz": "30 минуттан кейін қайталап көріңіз",
        "eng": "try again in 30 minutes",
    },
    "reason_card_expired": {
        "rus": "срок действия карты истёк",
        "kaz": "картаның мерзімі өтіп кеткен",
        "eng": "the card has expired",
    },
    "reason_insufficient_funds": {
        "rus": "недостаточно средств на карте",
        "kaz": "картада қаражат жеткіліксіз",
        "eng": "insufficient funds on the card",
    },
    "reason_online_disabled": {
        "rus": "покупки в интернете по этой карте отключены",
        "kaz": "бұл картамен интернеттен сатып алу өшірулі",
        "eng": "online purchases are disabled for this card",
    },
    "reason_over_limit": {
        "rus": "сумма превышает лимит карты",
        "kaz": "сома карта лимитінен асады",
        "eng": "the amount is over the card's limit",
    },
    "reason_secure_required": {
        "rus": "для этой карты нужна проверка 3-D Secure",
        "kaz": "бұл картаға 3-D Secure тексеруі қажет",
        "eng": "this card needs a 3-D Secure check",
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
    "message_expired": {
        "rus": "Время на оплату истекло, платёж не поступил.",
        "kaz": "Төлем уақыты өтті, төлем түспеді.",
        "eng": "The time to pay ran out; no payment was made.",
    },
}


def language() -> str:
    """The visitor's language (``rus``/``kaz``/``eng``)."""
    chosen = session.get("language")
    return chosen if chosen in LANGUAGES else DEFAULT


def text(key: str, language: str, **values: object) -> str:
    """The label ``key`` in ``language`` (``rus``/``kaz``/``eng``), its ``{placeholders}``
    filled from ``values``."""
    found = _LABELS[key][language]
    return found.format(**values) if values else found


def label(key: str, **values: object) -> str:
    """The label ``key`` in the visitor's language, its ``{placeholders}`` filled from
    ``values``."""
    return text(key, language(), **values)


def number(amount: Decimal | int, in_language: str | None = None) -> str:
    """``amount`` as the visitor reads it: thousands apart (a no-break space, so that a price
    never wraps), tiyn only when there are some, a decimal comma in Russian and Kazakh."""
    value = Decimal(amount)
    shown = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    shown = shown.replace(",", "\u00a0")
    return shown if (in_language or language()) == "eng" else shown.replace(".", ",")


def money(amount: Decimal | int, in_language: str | None = None) -> str:
    """``amount`` in tenge, written as :func:`number` writes it."""
    return f"{number(amount, in_language)}\u00a0₸"
