"""Every JSON example of the vendor's pages quoted in the shared EPAY-REFERENCE.md, as the text
printed there (section in each name). Where a page's example is not valid JSON or is cut short
there, the note says what was done."""

from __future__ import annotations

import json
from typing import Any

# §5: the widget page's success postLink (its id is anonymised: a 5-digit group).
POSTLINK_SUCCESS = """{ "accountId": "sad12eqsda", "amount": 100, "approvalCode": "157911",
  "cardId": "11f1111b-f151-6f11-e161-1111010a2111", "cardMask": "440043...2222",
  "cardType": "VISA", "code": "ok", "currency": "KZT",
  "dateTime": "2024-07-29T10:50:56.765674319+05:00", "description": "Arman Alimguzhinov",
  "email": "", "id": "1d1a11f1-1111-111c-1113b-e8340ce51111", "invoiceId": "191111111",
  "ip": "213.148.6.204", "ipCity": "", "ipCountry": "", "ipDistrict": "", "ipLatitude": 0,
  "ipLongitude": 0, "ipRegion": "", "issuer": "JSC KASPI BANK", "language": "RUS",
  "name": "STANDARD CARDHOLDER", "phone": "", "reason": "success", "reasonCode": 0,
  "reference": "411111111117", "secure": "no", "secureDetails": "F",
  "terminal": "67e34d63-102f-4bd1-898e-370781d0074d" }"""

# §5: the failure postLink (a negative reasonCode).
POSTLINK_FAILURE = """{ "id": "ffffffff-0000-000f-f000-00f0000f000f",
  "dateTime": "2020-01-01T00:00:00.00000+06:00",
  "invoiceId": "10000000001", "invoiceIdAlt": "8564546", "amount": 100, "currency": "KZT",
  "terminal": "67e34d63-102f-4bd1-898e-370781d0074d", "accountId": "1",
  "description": "Оплата в интернет магазине", "language": "RU", "cardMask": "4444...4444",
  "cardType": "", "issuer": "Halyk bank", "reference": "", "secure": "no", "secureDetails": "F",
  "tokenRecipient": "", "code": "error", "reason": "описание ошибки", "reasonCode": -498,
  "name": "CARD HOLDER", "email": "ch@example.kz", "phone": "77777777777", "ip": "5.188.155.135",
  "ipCountry": "Kazakhstan", "ipCity": "Almaty", "ipRegion": "", "ipDistrict": "",
  "ipLongitude": 76.9293, "ipLatitude": 43.2638 }"""

# §6.1: the current status answer. The page is readable up to "descriptio…": the rest is the
# field list production clients read ([CODE]), with the values of a paid transaction.
STATUS_NEW = """{
  "resultCode": "100",
  "resultMessage": "SUCCESS",
  "transaction": {
    "id": "af2089fe-43b1-47eb-a61f-c78dd196e18d",
    "createdDate": "2022-11-15T03:52:17.289853+06:00",
    "invoiceID": "205218074",
    "amount": 12.22,
    "amountBonus": 0,
    "payoutAmount": 10,
    "orgAmount":22.22,
    "approvalCode": "170243",
    "data": "{\\"custom_id\\":\\"2023.03.10-15:03:58\\",\\"email\\":\\"epay@halykbank.kz\\",\\"deal_number\\":\\"1111111\\",\\"offer_code\\":\\"1111111\\",\\"sum\\":33900}",
    "currency": "KZT",
    "terminal": "98120001",
    "terminalID":"67e34d63-102f-4bd1-898e-370781d0074d",
    "accountID": "",
    "description": "Оплата в интернет магазине", "language": "RU", "cardMask": "440563...5096",
    "cardType": "VISA", "issuer": "HALYK BANK", "reference": "227911111111",
    "intReference": "005224F86969006E", "secure": false, "secureDetails": "",
    "statusID": "3", "statusName": "CHARGE", "reason": "success", "reasonCode": "0",
    "name": "TEST", "email": "", "phone": "", "cardID": "", "xlsRRN": "227911111111",
    "ip": "10.6.58.11", "ipCountry": "", "ipCity": "", "ipRegion": "", "ipDistrict": "",
    "ipLatitude": 0, "ipLongitude": 0
  }
}"""  # noqa: E501

# §6.2: the old status API's flat answer (GET /operation/:invoiceid): code carries the status.
STATUS_OLD = """{ "id": "97131c28-07db-4de0-be4a-9a108de7f01b",
  "dateTime": "2020-10-05T16:47:26.507545+06:00",
  "invoiceId": "1601891358135", "amount": 4, "currency": "KZT", "terminal": "98458031",
  "accountId": "", "description": "Оплата в интернет магазине", "language": "RU",
  "cardMask": "4003...3957", "cardType": "VISA", "issuer": "Казкоммерцбанк",
  "reference": "027980238029", "secure": "false", "code": "CHARGE", "reason": "Successfully",
  "reasonCode": 0, "name": "test", "email": "parkhomchik@gmail.com", "phone": "77472261170",
  "ip": "10.6.58.11", "ipCountry": "", "ipCity": "", "ipRegion": "", "ipDistrict": "",
  "ipLongitude": 0, "ipLatitude": 0, "cardId": "16aae4f4-6d24-4a17-b1c6-c09ce7659efb" }"""

# §3: token answers. (The widget page's own has a stray quote after "scope": not JSON.)
TOKENS = {
    "payment (§3.1)": """{ "access_token": "DCEB8O_ZM5U7SO_T_U5EJQ", "expires_in": 7200,
        "refresh_token": "", "scope": "payment", "token_type": "Bearer" }""",
    "client credentials (§3.0)": """{ "access_token": "DCEB8O_ZM5U7SO_T_U5EJQ",
        "expires_in": 7200, "scope": "webapi", "token_type": "Bearer" }""",
    "password grant (§3.0)": """{ "access_token": "f2288c2b-1d08-4aac-a210-d62c0901f915",
        "token_type": "bearer", "refresh_token": "3f94522d-5a5a-4a22-bc85-f5f5a56920b4",
        "expires_in": 43199 }""",
    "password grant, invoice page (§3.4)": """{ "access_token": "IRPNGDU-PBYMXBCXTC5AMG",
        "expires_in": "900", "refresh_token": "O8EGZOGOVVAQGUAADC_WBG",
        "scope": "webapi usermanagement email_send verification statement statistics payment",
        "token_type": "Bearer"}""",
    "QR (§17)": """{"access_token": "access token", "expires_in": "1200", "refresh_token": "",
        "scope": "payment", "token_type": "Bearer"}""",
}

# §12: the saved-card list (PascalCase; the page's second entry is cut short, so one entry).
SAVED_CARDS = """[
  { "ID": "6845e5d5-35cc-428e-bd95-e85f78cb59d1",
    "TransactionId": "a4b8c500-ddbf-4475-b512-60cd5a9189f7",
    "MerchantID": "1a8ca610-73eb-4996-a2ef-5ec1d57bf573",
    "CardHash": "ac2d26319b1910692db0e357e88a3d02cd9e7867d72e6d2c6f4f48e61a46201e",
    "CardMask": "4405...2283", "PayerName": "TEST", "Reference": "034680043232",
    "IntReference": "005224F86969006E", "Token": "A5011A20B136418774169BC24030C63B",
    "Terminal": "98458031", "CreatedDate": "2020-12-11T15:47:58.828909+06:00",
    "PaymentAvailable": false, "AccountID": "testuser1" }
]"""

# §1.4, §8, §9, §12: operation errors.
OPERATION_ERRORS = ['{ "code": 100, "message": "" }', '{"code":1373,"message":"…"}']

# §7.1 and §7.2: the reason codes, and the failure example's negative one.
REASON_CODES = [*range(454, 480), *range(480, 504), 521, 522, 523, 525, 526, 527, 528, 529,
                690, 877, 3141, 3225, 3240, 3298, -498]


def load(text: str) -> Any:
    return json.loads(text)
