"""Labelled follow-up questions against the demo guides (guides/demo_guides): what a customer
on a guide page might ask next, in their own words, with the step that answers it, or None when
no demo guide of that company answers it. The threshold guides.follow_up.MIN_SCORE is measured
on them (tests/guides/test_follow_up_matching.py, docs/follow-up.md).

Each row: (company slug, language, question, (guide slug, step position) or None).
"""

from __future__ import annotations

ANSWERED: list[tuple[str, str, str, tuple[str, int]]] = [
    ("spotify", "en", "Where do I change my payment card?", ("cant-change-payment-card", 1)),
    ("spotify", "en", "can i pay with paypal instead of my card", ("cant-change-payment-card", 2)),
    ("spotify", "en", "Does an incognito window help?", ("cant-change-payment-card", 3)),
    ("spotify", "en", "should I try a different internet connection", ("cant-change-payment-card", 4)),
    ("spotify", "en", "is there a community forum where I can ask", ("cant-change-payment-card", 5)),
    ("spotify", "en", "my plan is billed through my mobile operator", ("cant-change-payment-card", 1)),
    ("netflix", "en", "the reset email is not in my inbox", ("password-reset-email-not-arriving", 1)),
    ("netflix", "en", "can I reset my password by text message?", ("password-reset-email-not-arriving", 2)),
    ("netflix", "en", "I'm not sure which e-mail address my account uses", ("password-reset-email-not-arriving", 3)),
    ("netflix", "en", "my TV is still signed in, can I change the password there", ("password-reset-email-not-arriving", 4)),
    ("amazon", "en", "how long does the bank take to show the refund", ("return-refund-not-received", 3)),
    ("amazon", "en", "where can I see my refund status", ("return-refund-not-received", 1)),
    ("amazon", "en", "the return package tracking says it was not delivered", ("return-refund-not-received", 4)),
    ("amazon", "en", "should I dispute the charge with my card issuer?", ("return-refund-not-received", 5)),
    ("paypal", "en", "how do I confirm my bank details", ("account-limited", 2)),
    ("paypal", "en", "I have a negative balance, what now", ("account-limited", 4)),
    ("paypal", "en", "someone logged in to my account, unusual activity", ("account-limited", 3)),
    ("cedar-bank", "en", "where do I find the virtual card", ("card-declined-online", 4)),
    ("cedar-bank", "en", "what is my online spending limit", ("card-declined-online", 3)),
    # The one-time code guide is a draft: the published guide's security check answers.
    ("cedar-bank", "en", "the one-time code never comes, can I approve in the app instead", ("card-declined-online", 2)),
    ("nile-telecom", "en", "how do I set the APN", ("mobile-data-not-working-new-sim", 1)),
    ("nile-telecom", "en", "should I turn airplane mode on and off", ("mobile-data-not-working-new-sim", 2)),
    ("nile-telecom", "en", "how do I reset network settings on my phone", ("mobile-data-not-working-new-sim", 4)),
    ("nile-telecom", "en", "where is a store to replace my SIM", ("mobile-data-not-working-new-sim", 6)),
    # Arabic: articles, suffixes, hamza and alef forms, teh marbuta, diacritics, dialect.
    ("spotify", "ar", "كيف أحدث بطاقتي من صفحة الحساب؟", ("cant-change-payment-card", 1)),
    ("spotify", "ar", "هل استطيع الدفع عن طريق باي بال PayPal", ("cant-change-payment-card", 2)),
    ("spotify", "ar", "هل تنفع نافذة التصفح الخاصة؟", ("cant-change-payment-card", 3)),
    ("spotify", "ar", "اين منتدى مجتمع سبوتيفاي Spotify", ("cant-change-payment-card", 5)),
    ("whatsapp", "ar", "ممكن اطلب الرمز بمكالمه صوتيه؟", ("verification-code-not-arriving", 2)),
    ("whatsapp", "ar", "هل لازم اعيد تشغيل الهاتف", ("verification-code-not-arriving", 4)),
    ("whatsapp", "ar", "رمز الدوله غلط", ("verification-code-not-arriving", 1)),
    ("nile-telecom", "ar", "كيف اضبط نقطه الوصول", ("mobile-data-not-working-new-sim", 1)),
    ("nile-telecom", "ar", "أين أستبدل الشريحة؟", ("mobile-data-not-working-new-sim", 6)),
    ("nile-telecom", "ar", "وضع الطيّران لم ينفع", ("mobile-data-not-working-new-sim", 2)),
    ("cedar-bank", "ar", "كيف أكمل التحقق الامني", ("card-declined-online", 2)),
    ("cedar-bank", "ar", "ما هو حد الانفاق عبر الانترنت", ("card-declined-online", 3)),
]  # fmt: skip

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
]  # fmt: skip
