"""What generated tickets are made of: word lists in Arabic and English, and the shares that
shape the history (statuses, priorities, languages, queues, SLA targets)."""

from __future__ import annotations

from guides.models import StepOutcomeKind
from tickets.models import Priority

DAY = 86_400.0
HISTORY_DAYS = 730
# Agents who keep many tickets pending on customers hold a few hundred open ones at a time;
# generated tickets are assigned only while an agent has room, so nobody ends over capacity.
AGENT_CAPACITY = 300
AGENT_COUNT = 60
USERNAME_PREFIX = "gen."

# Shares of all tickets by status: almost everything is history, a few % is being worked.
STATUS_SHARES = [
    ("new", 0.004),
    ("open", 0.009),
    ("pending", 0.007),
    ("solved", 0.015),
    ("closed", 0.965),
]
PRIORITY_SHARES = [(1, 0.20), (2, 0.55), (3, 0.18), (4, 0.07)]
ARABIC_SHARE = 0.45
CONTACT_FORM_SHARE = 0.15
# Unassigned among the open tickets: most new ones wait in their queue; a few open ones lost
# their agent (on leave, moved). These are what claim next picks from.
NEW_UNASSIGNED_SHARE = 0.85
OPEN_UNASSIGNED_SHARE = 0.25

# (slug, name, languages, share of the tickets it receives in its languages)
QUEUES = [
    ("billing-ar", "Billing (Arabic)", ["ar"], 3),
    ("billing-en", "Billing (English)", ["en"], 3),
    ("accounts-ar", "Accounts (Arabic)", ["ar"], 2),
    ("accounts-en", "Accounts (English)", ["en"], 2),
    ("orders-ar", "Orders (Arabic)", ["ar"], 2),
    ("orders-en", "Orders (English)", ["en"], 2),
    ("technical", "Technical", [], 2),
    ("general", "General", [], 1),
]
# Minutes to the first response and to resolution, per priority.
SLA_MINUTES = {
    Priority.URGENT: (15, 4 * 60),
    Priority.HIGH: (30, 8 * 60),
    Priority.NORMAL: (2 * 60, 24 * 60),
    Priority.LOW: (8 * 60, 72 * 60),
}

# Used when the database has no published guides (no `load_demo` run): a few of our own.
FALLBACK_GUIDES = [
    ("Paymo", "paymo", "en", "My card is declined at checkout",
     ["Check the card's expiry date", "Try another card", "Call your bank"]),
    ("Paymo", "paymo", "ar", "بطاقتي مرفوضة عند الدفع",
     ["تحقق من تاريخ انتهاء البطاقة", "جرّب بطاقة أخرى", "اتصل بالبنك"]),
    ("Streamly", "streamly", "en", "Videos stop after a few seconds",
     ["Restart the app", "Lower the video quality", "Reinstall the app"]),
    ("Streamly", "streamly", "ar", "الفيديو يتوقف بعد ثوانٍ",
     ["أعد تشغيل التطبيق", "خفّض جودة الفيديو", "أعد تثبيت التطبيق"]),
    ("Parcelo", "parcelo", "en", "My parcel is marked delivered but never came",
     ["Check with your neighbours", "Look at the delivery photo"]),
    ("Parcelo", "parcelo", "ar", "الطرد يظهر أنه سُلّم لكنه لم يصل",
     ["اسأل الجيران", "راجع صورة التسليم"]),
]  # fmt: skip

TEXTS: dict[str, dict[str, list[str]]] = {
    "en": {
        "problems": [
            "I was charged twice for my subscription this month.",
            "The app logs me out every time I open it.",
            "My order says delivered but nothing arrived.",
            "The password reset e-mail never comes.",
            "The payment page keeps saying my card was declined.",
            "Videos stop loading after a few seconds.",
            "I changed my phone number and now I cannot sign in.",
            "The refund I was promised has not reached my account.",
            "My account was locked after I typed the code.",
            "The invoice shows a plan I never chose.",
        ],
        "details": [
            "I already restarted my phone.",
            "It started after the last update.",
            "Order number {n}.",
            "Please call me back if you can.",
            "I tried on Wi-Fi and on mobile data.",
            "It happens on the website too.",
            "This is the third time this week.",
            "",
        ],
        "notes": [
            "Nothing changed.",
            "The button is greyed out.",
            "I don't have that computer with me.",
            "Same error as before.",
            "It worked once, then failed again.",
            "",
            "",
        ],
        "replies": [
            "Thank you for the details. I reset your session on our side; please try again.",
            "I can see the double charge. The refund is on its way (3 to 5 working days).",
            "Could you send us a screenshot of the error message?",
            "Your account is unlocked now. Let us know if it happens again.",
            "The carrier confirmed the parcel was misrouted; a new one ships today.",
            "We fixed the plan on your invoice and credited the difference.",
        ],
        "first": ["Sam", "Olivia", "James", "Priya", "Daniel", "Grace", "Tom", "Lucy", "Noah"],
        "last": ["Walker", "Hughes", "Patel", "Brown", "Evans", "Reid", "Clarke", "Moss"],
    },
    "ar": {
        "problems": [
            "تم خصم قيمة الاشتراك مرتين هذا الشهر.",
            "التطبيق يسجّل خروجي كلما فتحته.",
            "الطلب يظهر أنه سُلّم لكنه لم يصل.",
            "رسالة إعادة تعيين كلمة المرور لا تصل.",
            "صفحة الدفع تقول إن بطاقتي مرفوضة.",
            "الفيديو يتوقف عن التحميل بعد ثوانٍ.",
            "غيّرت رقم هاتفي ولا أستطيع الدخول الآن.",
            "المبلغ المسترد لم يصل إلى حسابي بعد.",
            "تم قفل حسابي بعد إدخال الرمز.",
            "الفاتورة تُظهر باقة لم أخترها.",
        ],
        "details": [
            "أعدت تشغيل الهاتف بالفعل.",
            "بدأت المشكلة بعد آخر تحديث.",
            "رقم الطلب {n}.",
            "أرجو الاتصال بي إن أمكن.",
            "جربت على الواي فاي وعلى بيانات الجوال.",
            "المشكلة نفسها على الموقع.",
            "هذه ثالث مرة هذا الأسبوع.",
            "",
        ],
        "notes": [
            "لم يتغير شيء.",
            "الزر غير مفعّل.",
            "ليس معي ذلك الحاسوب.",
            "نفس الخطأ السابق.",
            "نجح مرة ثم فشل من جديد.",
            "",
            "",
        ],
        "replies": [
            "شكراً على التفاصيل. أعدنا ضبط الجلسة من جهتنا، يرجى المحاولة مجدداً.",
            "نرى الخصم المكرر، وسيصلك المبلغ المسترد خلال ٣ إلى ٥ أيام عمل.",
            "هل يمكنك إرسال صورة لرسالة الخطأ؟",
            "تم فتح حسابك الآن. أخبرنا إن تكرر الأمر.",
            "أكدت شركة الشحن أن الطرد أُرسل خطأً، وسيُشحن طرد جديد اليوم.",
            "صححنا الباقة في فاتورتك وأعدنا الفرق إلى حسابك.",
        ],
        # The name as written, and how the customer spells it in an e-mail address.
        "first": ["محمد|mohamed", "فاطمة|fatima", "أحمد|ahmed", "ليلى|layla", "يوسف|youssef",
                  "مريم|mariam", "عمر|omar", "سارة|sara", "خالد|khaled"],
        "last": ["الحسن|hassan", "منصور|mansour", "خليل|khalil", "سليمان|suleiman",
                 "عبدالله|abdallah", "حداد|haddad", "النجار|najjar"],
    },
}  # fmt: skip
EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example"]
STEP_FAILURES = [
    StepOutcomeKind.DID_NOT_WORK,
    StepOutcomeKind.DID_NOT_WORK,
    StepOutcomeKind.COULD_NOT_DO,
    StepOutcomeKind.SKIPPED,
]
