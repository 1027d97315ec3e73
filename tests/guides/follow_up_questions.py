"""Labelled follow-up questions against the demo guides (guides/demo_guides): what a customer
on a guide page might ask next, in their own words, with the step that answers it, or None when
no demo guide of that company answers it. The threshold guides.follow_up.MIN_SCORE is measured
on them (tests/guides/test_follow_up_matching.py, docs/follow-up.md).

Each row: (company slug, language, question, (guide slug, step position) or None).
"""

from __future__ import annotations

# The demo guides' slugs.
CARD = "cant-change-payment-card"
RESET = "password-reset-email-not-arriving"
REFUND = "return-refund-not-received"
LIMITED = "account-limited"
DECLINED = "card-declined-online"
SIM = "mobile-data-not-working-new-sim"
CODE = "verification-code-not-arriving"

ANSWERED: list[tuple[str, str, str, tuple[str, int]]] = [
    ("spotify", "en", "Where do I change my payment card?", (CARD, 1)),
    ("spotify", "en", "can i pay with paypal instead of my card", (CARD, 2)),
    ("spotify", "en", "Does an incognito window help?", (CARD, 3)),
    ("spotify", "en", "should I try a different internet connection", (CARD, 4)),
    ("spotify", "en", "is there a community forum where I can ask", (CARD, 5)),
    ("spotify", "en", "my plan is billed through my mobile operator", (CARD, 1)),
    ("netflix", "en", "the reset email is not in my inbox", (RESET, 1)),
    ("netflix", "en", "can I reset my password by text message?", (RESET, 2)),
    ("netflix", "en", "I'm not sure which e-mail address my account uses", (RESET, 3)),
    ("netflix", "en", "my TV is still signed in, can I change the password there", (RESET, 4)),
    ("amazon", "en", "how long does the bank take to show the refund", (REFUND, 3)),
    ("amazon", "en", "where can I see my refund status", (REFUND, 1)),
    ("amazon", "en", "the return package tracking says it was not delivered", (REFUND, 4)),
    ("amazon", "en", "should I dispute the charge with my card issuer?", (REFUND, 5)),
    ("paypal", "en", "how do I confirm my bank details", (LIMITED, 2)),
    ("paypal", "en", "I have a negative balance, what now", (LIMITED, 4)),
    ("paypal", "en", "someone logged in to my account, unusual activity", (LIMITED, 3)),
    ("cedar-bank", "en", "where do I find the virtual card", (DECLINED, 4)),
    ("cedar-bank", "en", "what is my online spending limit", (DECLINED, 3)),
    # The one-time code guide is a draft: the published guide's security check answers.
    (
        "cedar-bank",
        "en",
        "the one-time code never comes, can I approve in the app instead",
        (DECLINED, 2),
    ),
    ("nile-telecom", "en", "how do I set the APN", (SIM, 1)),
    ("nile-telecom", "en", "should I turn airplane mode on and off", (SIM, 2)),
    ("nile-telecom", "en", "how do I reset network settings on my phone", (SIM, 4)),
    ("nile-telecom", "en", "where is a store to replace my SIM", (SIM, 6)),
    # Arabic: articles, suffixes, hamza and alef forms, teh marbuta, diacritics, dialect.
    ("spotify", "ar", "كيف أحدث بطاقتي من صفحة الحساب؟", (CARD, 1)),
    ("spotify", "ar", "هل استطيع الدفع عن طريق باي بال PayPal", (CARD, 2)),
    ("spotify", "ar", "هل تنفع نافذة التصفح الخاصة؟", (CARD, 3)),
    ("spotify", "ar", "اين منتدى مجتمع سبوتيفاي Spotify", (CARD, 5)),
    ("whatsapp", "ar", "ممكن اطلب الرمز بمكالمه صوتيه؟", (CODE, 2)),
    ("whatsapp", "ar", "هل لازم اعيد تشغيل الهاتف", (CODE, 4)),
    ("whatsapp", "ar", "رمز الدوله غلط", (CODE, 1)),
    ("nile-telecom", "ar", "كيف اضبط نقطه الوصول", (SIM, 1)),
    ("nile-telecom", "ar", "أين أستبدل الشريحة؟", (SIM, 6)),
    ("nile-telecom", "ar", "وضع الطيّران لم ينفع", (SIM, 2)),
    ("cedar-bank", "ar", "كيف أكمل التحقق الامني", (DECLINED, 2)),
    ("cedar-bank", "ar", "ما هو حد الانفاق عبر الانترنت", (DECLINED, 3)),
]

UNANSWERED: list[tuple[str, str, str]] = [
    ("spotify", "en", "how do I download songs to listen offline"),
    ("spotify", "en", "can I share my playlist with a friend"),
    ("netflix", "en", "why is the video quality so bad on my TV"),
    ("netflix", "en", "how many screens can watch at the same time"),
    ("amazon", "en", "how do I change my delivery address for a new order"),
    ("paypal", "en", "what are the fees for sending money abroad"),
    ("cedar-bank", "en", "how do I open a savings account for my child"),
    ("nile-telecom", "en", "how do I port my number from another operator"),
    ("spotify", "ar", "كيف أنزل الأغاني للاستماع بدون إنترنت"),
    ("whatsapp", "ar", "كيف أعمل نسخة احتياطية للمحادثات"),
    ("nile-telecom", "ar", "كم سعر المكالمات الدولية"),
    ("cedar-bank", "ar", "أريد فتح حساب توفير لابني"),
]
