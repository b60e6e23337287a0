"""What the payment pages say, in Russian and English (``Language`` = ``RU``/``EN``), and how
they write amounts.  The domain's messages are English; here they get a translation for the
buyer, while the English detail and Assist's codes stay on error pages for the shop."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ..domain.cards import FieldError
from ..domain.customer import Problem
from ..domain.errors import AssistError
from ..domain.money import EXPONENTS

TEXTS: dict[str, dict[str, str]] = {
    "RU": {
        "title": "Оплата заказа",
        "secure": "Защищённая оплата",
        "merchant": "Магазин",
        "order_number": "Номер заказа",
        "amount": "Сумма",
        "comment": "Назначение",
        "charge": "Будет списано с карты",
        "rate": "по курсу 1 {source} = {rate} {target}",
        "deadline": "Оплатите до {time} UTC (на оплату даётся {minutes} мин.)",
        "choose_means": "Выберите способ оплаты",
        "continue": "Продолжить",
        "means_unavailable": "Этот способ оплаты сейчас недоступен. Выберите другой.",
        "means_choose": "Выберите способ оплаты.",
        "card_title": "Данные банковской карты",
        "card_number": "Номер карты",
        "expiry": "Срок действия",
        "month": "ММ",
        "year": "ГГГГ",
        "cardholder": "Имя владельца (латиницей)",
        "cvc": "CVC2/CVV2",
        "cvc_hint": "3 или 4 цифры на обороте карты",
        "pay": "Оплатить {amount}",
        "points_title": "Оплата баллами «Спасибо»",
        "points_use": "Оплатить часть заказа баллами (до {points})",
        "points_count": "Сколько баллов",
        "points_split": "Картой: {card}, баллами: {points}",
        "points_bad": "Баллы: целое число от 1 до {points}",
        "paying": "Идёт оплата…",
        "card_safety": "Данные карты передаются только в процессинговый центр банка и не "
                       "сохраняются.",
        "other_means": "Другой способ оплаты",
        "processing_title": "Платёж обрабатывается",
        "processing_text": "Ждём ответа банка. Не закрывайте страницу и не платите повторно — "
                           "страница обновится сама.",
        "acs_title": "Подтверждение платежа в банке",
        "acs_text": "Сейчас откроется страница банка, выпустившего карту (3-D Secure).",
        "result_approved": "Оплата прошла успешно",
        "result_delayed": "Сумма заблокирована на карте",
        "result_delayed_text": "Магазин спишет её после подтверждения заказа.",
        "result_declined": "Платёж отклонён",
        "result_declined_text": "Банк не подтвердил платёж. Деньги не списаны.",
        "result_canceled": "Платёж отменён магазином",
        "result_partial": "Платёж принят; магазин изменил его сумму",
        "result_timeout": "Время на оплату истекло",
        "result_timeout_text": "Заказ закрыт: оплата не была выполнена за {minutes} мин. "
                               "Деньги не списаны. Оформите заказ в магазине ещё раз.",
        "billnumber": "Номер платежа",
        "card": "Карта",
        "response_code": "Код ответа",
        "back_to_shop": "Вернуться в магазин",
        "no_shop_url": "Эту страницу можно закрыть.",
        "error_title": "Оплата невозможна",
        "error_details": "Подробности для магазина",
        "codes": "firstcode {first}, secondcode {second}",
        "session_invalid": "Ссылка на страницу оплаты неверна или устарела.",
        "card_in_url": "Данные карты нельзя передавать в адресе страницы. Запрос отклонён.",
        "csrf": "Форма устарела. Откройте страницу оплаты заново.",
        "server_error": "Внутренняя ошибка. Деньги не списаны; попробуйте позже.",
        "already_paid": "Заказ с этим номером уже оплачен или оплачивается.",
        "language": "English",
        "customer_title": "Данные покупателя",
        "optional": "необязательно",
    },
    "EN": {
        "title": "Order payment",
        "secure": "Secure payment",
        "merchant": "Shop",
        "order_number": "Order number",
        "amount": "Amount",
        "comment": "Description",
        "charge": "Your card will be charged",
        "rate": "at 1 {source} = {rate} {target}",
        "deadline": "Please pay by {time} UTC (you have {minutes} min)",
        "choose_means": "Choose how to pay",
        "continue": "Continue",
        "means_unavailable": "This payment means is not available now. Please choose another.",
        "means_choose": "Please choose a payment means.",
        "card_title": "Bank card",
        "card_number": "Card number",
        "expiry": "Expiry date",
        "month": "MM",
        "year": "YYYY",
        "cardholder": "Name on the card",
        "cvc": "CVC2/CVV2",
        "cvc_hint": "3 or 4 digits on the back of the card",
        "pay": "Pay {amount}",
        "points_title": "Pay with «Spasibo» points",
        "points_use": "Pay part of the order with points (up to {points})",
        "points_count": "Points",
        "points_split": "By card: {card}, with points: {points}",
        "points_bad": "Points: a whole number from 1 to {points}",
        "paying": "Paying…",
        "card_safety": "Card data goes only to the bank's processing center and is never "
                       "stored.",
        "other_means": "Another payment means",
        "processing_title": "Your payment is being processed",
        "processing_text": "Waiting for the bank's answer. Please do not close this page or pay "
                           "again: it refreshes by itself.",
        "acs_title": "Confirm the payment with your bank",
        "acs_text": "Your card's bank page (3-D Secure) is opening now.",
        "result_approved": "Payment successful",
        "result_delayed": "The amount is held on your card",
        "result_delayed_text": "The shop will charge it once it confirms your order.",
        "result_declined": "Payment declined",
        "result_declined_text": "The bank did not approve the payment. No money was taken.",
        "result_canceled": "The shop canceled the payment",
        "result_partial": "Payment accepted; the shop has changed its amount since",
        "result_timeout": "The time to pay has run out",
        "result_timeout_text": "The order is closed: it was not paid within {minutes} min. "
                               "No money was taken. Please place the order in the shop again.",
        "billnumber": "Payment number",
        "card": "Card",
        "response_code": "Response code",
        "back_to_shop": "Return to the shop",
        "no_shop_url": "You can close this page now.",
        "error_title": "The payment cannot be made",
        "error_details": "Details for the shop",
        "codes": "firstcode {first}, secondcode {second}",
        "session_invalid": "This payment link is not valid or has expired.",
        "card_in_url": "Card data must never be sent in a page address. The request was "
                       "refused.",
        "csrf": "This form has expired. Please open the payment page again.",
        "server_error": "Internal error. No money was taken; please try again later.",
        "already_paid": "An order with this number is already paid or being paid.",
        "language": "Русский",
        "customer_title": "Your details",
        "optional": "optional",
    },
}

MEANS = {
    "card": ("Банковская карта", "Bank card"),
    "yoomoney": ("ЮMoney", "YooMoney"), "webmoney": ("WebMoney", "WebMoney"),
    "qiwi": ("QIWI Кошелёк", "QIWI Wallet"), "qiwi_mts": ("QIWI (МТС)", "QIWI (MTS)"),
    "qiwi_megafon": ("QIWI (МегаФон)", "QIWI (MegaFon)"),
    "qiwi_beeline": ("QIWI (Билайн)", "QIWI (Beeline)"),
    "qiwi_tele2": ("QIWI (Tele2)", "QIWI (Tele2)"), "applepay": ("Apple Pay", "Apple Pay"),
    "googlepay": ("Google Pay", "Google Pay"), "mirpay": ("Mir Pay", "Mir Pay"),
    "samsungpay": ("Samsung Pay", "Samsung Pay"), "sbp": ("СБП", "Faster Payments (SBP)"),
}

#: The buyer's wording of the card checks (the domain's English message -> Russian).
FIELD_RU = {
    "Enter the card number": "Введите номер карты",
    "This card number is not valid": "Номер карты введён с ошибкой",
    "Enter the expiry month (01-12)": "Введите месяц (01–12)",
    "Enter the expiry year": "Введите год",
    "The card has expired": "Срок действия карты истёк",
    "The expiry year is too far ahead": "Год окончания срока указан неверно",
    "Enter the name on the card": "Введите имя, как на карте",
    "Use Latin letters, spaces, dots, apostrophes and hyphens":
        "Используйте латинские буквы, пробел, точку, апостроф и дефис",
    "Enter the 3 or 4 digits on the back of the card":
        "Введите 3 или 4 цифры с обратной стороны карты",
}

#: The customer fields' labels (Russian, English) and examples, by field name.
CUSTOMER_LABELS = {
    "lastname": ("Фамилия", "Last name"), "firstname": ("Имя", "First name"),
    "middlename": ("Отчество", "Middle name"), "email": ("Электронная почта", "E-mail"),
    "mobilephone": ("Мобильный телефон", "Mobile phone"),
    "homephone": ("Домашний телефон", "Home phone"),
    "workphone": ("Рабочий телефон", "Work phone"), "fax": ("Факс", "Fax"),
    "country": ("Страна (код)", "Country (code)"), "state": ("Регион (код)", "Region (code)"),
    "city": ("Город", "City"), "zip": ("Почтовый индекс", "Postal code"),
    "address": ("Адрес", "Address"),
}
CUSTOMER_EXAMPLES = {"email": "name@example.com", "mobilephone": "+7 900 000-00-00",
                     "homephone": "+7 495 000-00-00", "workphone": "+7 495 000-00-00",
                     "fax": "+7 495 000-00-00", "country": "RU"}

#: The buyer's wording of the customer fields' problems in Russian, by ``Problem.key`` (the
#: English is the domain's).
PROBLEM_RU = {
    "required": "Заполните это поле",
    "too_long": "Не более {longest} символов",
    "characters": "Эти символы недопустимы: {chars}",
    "email": "Введите адрес электронной почты, например name@example.com",
    "phone": "Введите номер телефона из 5–15 цифр (в начале можно +)",
    "country": "Введите код страны: 2 или 3 латинские буквы, например RU",
}

#: What a refused authorization request means for the buyer, by secondcode (then firstcode).
_ERRORS_BY_SECOND = {
    100: ("Магазин не найден или не принимает платежи.", "The shop is unknown or does not "
                                                          "accept payments."),
    105: ("Магазин не принимает оплату в этой валюте.", "The shop does not accept this "
                                                        "currency."),
    107: ("Номер заказа неверен, или заказ с этим номером уже оплачен.",
          "The order number is invalid, or this order is already paid."),
    108: ("Сумма заказа указана неверно.", "The order amount is invalid."),
    109: ("Двухстадийная оплата недоступна для этого магазина.",
          "Two-stage payment is not available for this shop."),
    110: ("Комментарий к заказу указан неверно или слишком длинный.",
          "The order comment is invalid or too long."),
    127: ("Язык страницы указан неверно.", "The page language is invalid."),
    154: ("Адрес возврата в магазин указан неверно.", "A return address of the shop is "
                                                     "invalid."),
    167: ("Оплата в этой валюте сейчас невозможна.", "Payment in this currency is not "
                                                     "possible right now."),
    201: ("Заказ не найден.", "The order was not found."),
    205: ("Платёжный сервис временно недоступен.", "The payment service is temporarily "
                                                   "unavailable."),
    218: ("Для заказа не осталось доступных способов оплаты.",
          "No payment means is left for this order."),
}
_CUSTOMER = ("Данные покупателя указаны неверно.", "The buyer's data is invalid.")
_ERRORS_BY_FIRST = {
    3: ("В запросе магазина не хватает данных.", "The shop's request lacks data."),
    7: ("Подпись заказа (Checkvalue) отсутствует.", "The order's signature (Checkvalue) is "
                                                    "missing."),
    9: ("Подпись заказа (Checkvalue) неверна.", "The order's signature (Checkvalue) is "
                                                "wrong."),
    11: ("Заказ с этим номером уже оплачен.", "This order is already paid."),
    16: ("Время на оплату истекло.", "The time to pay has run out."),
}
_GENERIC = ("Запрос магазина на оплату неверен.", "The shop's payment request is invalid.")


def t(lang: str, key: str, **kw) -> str:
    text = TEXTS.get(lang, TEXTS["EN"]).get(key) or TEXTS["EN"][key]
    return text.format(**kw) if kw else text


def field_message(lang: str, error: FieldError) -> str:
    return FIELD_RU.get(error.message, error.message) if lang == "RU" else error.message


def customer_label(lang: str, name: str) -> str:
    ru, en = CUSTOMER_LABELS[name]
    return ru if lang == "RU" else en


def customer_message(lang: str, problem: Problem) -> str:
    """What the buyer is told beside a customer field whose value cannot be kept."""
    if lang == "RU":
        return PROBLEM_RU[problem.key].format(**dict(problem.detail))
    return problem.message


def means_label(lang: str, means: str) -> str:
    ru, en = MEANS.get(means, (means, means))
    return ru if lang == "RU" else en


def explain(lang: str, error: AssistError) -> str:
    """One sentence for the buyer about a refused request."""
    i = 0 if lang == "RU" else 1
    if error.firstcode == 3 and error.secondcode == 0:  # Checkvalue missing
        return _ERRORS_BY_FIRST[7][i]
    if error.firstcode in (7, 9, 11, 16):
        return _ERRORS_BY_FIRST[error.firstcode][i]
    if error.secondcode in _ERRORS_BY_SECOND:
        return _ERRORS_BY_SECOND[error.secondcode][i]
    if 116 <= error.secondcode <= 128:
        return _CUSTOMER[i]
    if error.firstcode in _ERRORS_BY_FIRST:
        return _ERRORS_BY_FIRST[error.firstcode][i]
    return _GENERIC[i]


def money(amount: Decimal, currency: str, lang: str) -> str:
    """``1 290,00 RUB`` in Russian, ``1,290.00 RUB`` in English."""
    digits = EXPONENTS.get(currency, 2)
    text = f"{amount:,.{digits}f}"
    if lang == "RU":
        text = text.replace(",", "\u00a0").replace(".", ",")
    return f"{text}\u00a0{currency}"


def when(moment: datetime) -> str:
    return moment.strftime("%d.%m.%Y %H:%M")
