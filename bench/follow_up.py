"""Follow-up answer time on the embedded default (SQLite), with 1,000 published guides.

    .venv/bin/python bench/follow_up.py [--guides 1000] [--questions 300] [--keep DIR]

Makes a throw-away SQLite database (in a temporary folder, or --keep's), migrates it, and
writes --guides published guides generated from the demo guides' texts (guides/demo_guides,
English and Arabic) with variations: 25 companies, one of them with a third of the guides (the
worst case for a question asked on its pages), each guide's title, summary and steps varied by
phrases of its language, its steps in another order. The guide search index is built as the
importer and the admin build it.

Then asks --questions follow-up questions through the whole Django stack (the test client:
middleware, CSRF-exempt as the client is, the view, the template), as follow_up.js does
(POST /follow-ups/ with the X-Follow-Up header, the answer part back), each on a guide page
of its company and language: the labelled questions of tests/guides/follow_up_questions.py
(answered and unanswered), questions of one word, long questions of several sentences, and
questions with typos. Prints p50, p95 and max of the answer time, by kind and overall, and how
many questions were answered. Run it on a quiet machine: the figures are wall-clock.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PHRASES = {
    "en": [
        "on an iPhone", "on Android", "from abroad", "after the last update", "on the website",
        "with a prepaid card", "on a tablet", "for a family plan", "on a work account",
        "after moving country", "with a new phone", "during a trial",
    ],
    "ar": [
        "على هاتف آيفون", "على أندرويد", "من خارج البلد", "بعد آخر تحديث", "على الموقع",
        "ببطاقة مسبقة الدفع", "على جهاز لوحي", "في الباقة العائلية", "على حساب العمل",
        "بعد الانتقال إلى بلد آخر", "بهاتف جديد", "خلال الفترة التجريبية",
    ],
}  # fmt: skip
SENTENCES = {
    "en": [
        "If the screen looks different, look for the same words in the menu.",
        "Keep the error message: support will ask for it.",
        "This can take up to a day to show on your account.",
        "Check that the date and time on your device are right.",
        "Close the app completely and open it again before trying.",
    ],
    "ar": [
        "إذا بدت الشاشة مختلفة فابحث عن الكلمات نفسها في القائمة.",
        "احتفظ برسالة الخطأ فقد يطلبها فريق الدعم.",
        "قد يستغرق ظهور التغيير في حسابك يومًا كاملًا.",
        "تأكد من صحة التاريخ والوقت على جهازك.",
        "أغلق التطبيق تمامًا ثم افتحه مرة أخرى قبل المحاولة.",
    ],
}
TYPOS = {
    "en": ["paypall instaed of card", "pasword reset emial", "refnd status", "airplane mod"],
    "ar": ["الدفع عن طريق بايبال", "نقطه الوصل", "اعاده تشغيل الهاتف", "رمز التحقق لايصل"],
}
LONG = {
    "en": (
        "Hello, I got a new card last week because the old one expired. I tried to change it "
        "on my phone but the app keeps showing an error and the old card is still listed. "
        "Can I pay with PayPal instead, or do I have to wait?"
    ),
    "ar": (
        "مرحبا، حصلت على بطاقة جديدة الأسبوع الماضي لأن القديمة انتهت صلاحيتها. حاولت تغييرها "
        "من هاتفي لكن التطبيق يعرض خطأ وما زالت البطاقة القديمة ظاهرة. هل أستطيع الدفع عن طريق "
        "PayPal بدلًا من ذلك أم يجب أن أنتظر؟"
    ),
}


def setup_django(folder: Path) -> None:
    # Production-like settings: DEBUG off (no query log), a throw-away key (nothing signed
    # here is for anyone else), as bench/workspace.py.
    os.environ.update(
        DEBUG="false",
        SECRET_KEY="bench-only-not-a-secret-" + "x" * 40,
        ALLOWED_HOSTS="localhost",
        SECURE_SSL_REDIRECT="false",
        HELPDESK_VAR_DIR=str(folder),
        DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}",
        WEB_WRITE_LIMIT="1000000",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test import override_settings

    # Without collectstatic there is no manifest of hashed static names; the box's script tag
    # would fail on {% static %}. Serving static files is not what is measured.
    override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()


def generate(count: int, seed: int) -> list[int]:
    """Publish ``count`` guides varied from the demo guides; their ids."""
    import yaml
    from django.db import transaction

    from guides.models import Company, Guide, Step
    from guides.search import guide_search_index_rebuild

    rng = random.Random(seed)
    documents = [
        yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "guides/demo_guides").glob("*.yaml"))
    ]
    companies = [
        Company.objects.get_or_create(slug=f"bench-{n}", defaults={"name": f"Bench Company {n}"})[0]
        for n in range(25)
    ]
    ids = []
    with transaction.atomic():
        for n in range(count):
            document = documents[n % len(documents)]
            language = document["language"]
            # A third of the guides for one company: the most a question has to sift.
            company = companies[0] if n % 3 == 0 else companies[1 + n % 24]
            phrase = rng.choice(PHRASES[language])
            guide = Guide.objects.create(
                company=company,
                slug=f"{document['slug']}-{n}",
                language=language,
                translation_key=f"{document['translation_key']}-{n}",
                title=f"{document['title']} {phrase}"[:300],
                summary=f"{document.get('summary', '')}\n\n{rng.choice(SENTENCES[language])}",
                status=Guide.Status.PUBLISHED,
            )
            steps = list(document["steps"])
            middle = steps[1:-1]
            rng.shuffle(middle)
            steps = [steps[0], *middle, steps[-1]] if len(steps) > 1 else steps
            Step.objects.bulk_create(
                Step(
                    guide=guide,
                    position=position,
                    kind=step["kind"],
                    title=step["title"],
                    body=f"{step.get('body', '')}\n\n{rng.choice(SENTENCES[language])}",
                )
                for position, step in enumerate(steps, start=1)
            )
            ids.append(guide.pk)
    guide_search_index_rebuild()
    return ids


def questions(count: int, seed: int) -> list[tuple[str, str, str]]:
    """(kind, language, question), ``count`` of them, of every kind in turn."""
    sys.path.insert(0, str(ROOT))
    from tests.guides.follow_up_questions import ANSWERED, UNANSWERED

    rng = random.Random(seed)
    pool: dict[str, list[tuple[str, str]]] = {
        "answered": [(language, question) for _c, language, question, _s in ANSWERED],
        "unanswered": [(language, question) for _c, language, question in UNANSWERED],
        "one word": [("en", "paypal"), ("en", "refund"), ("ar", "الشريحة"), ("ar", "البطاقة")],
        "long": [(language, text) for language, text in LONG.items()],
        "typos": [(language, text) for language, texts in TYPOS.items() for text in texts],
    }
    kinds = list(pool)
    return [
        (kind, *rng.choice(pool[kind])) for kind in (kinds[n % len(kinds)] for n in range(count))
    ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guides", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", help="a folder for the database, kept afterwards")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="follow-up-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        setup_django(folder)
        from django.core.management import call_command
        from django.test import Client

        from guides.models import Guide

        call_command("migrate", verbosity=0)
        began = time.perf_counter()
        ids = generate(args.guides, args.seed)
        print(f"{len(ids)} guides generated and indexed in {time.perf_counter() - began:.1f} s")
        # Each question on a guide page of the big company, in its language.
        pages = {
            language: list(
                Guide.objects.filter(
                    pk__in=ids, language=language, company__slug="bench-0"
                ).values_list("pk", flat=True)
            )
            for language in ("en", "ar")
        }
        rng = random.Random(args.seed)
        client = Client(HTTP_HOST="localhost", HTTP_USER_AGENT="bench", HTTP_X_FOLLOW_UP="fetch")
        client.post("/follow-ups/", {"question": "warm up", "guide": pages["en"][0]})
        timings: dict[str, list[float]] = {}
        answered: dict[str, int] = {}
        for kind, language, question in questions(args.questions, args.seed):
            guide_id = rng.choice(pages[language])
            start = time.perf_counter()
            response = client.post("/follow-ups/", {"question": question, "guide": guide_id})
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, (response.status_code, question)
            timings.setdefault(kind, []).append(elapsed)
            answered[kind] = answered.get(kind, 0) + (b"follow-up-list" in response.content)
        every = [t for values in timings.values() for t in values]
        print(f"{'kind':<12} {'n':>4} {'answered':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
        for kind, values in [*timings.items(), ("all", every)]:
            shown = answered.get(kind, sum(answered.values()))
            print(
                f"{kind:<12} {len(values):>4} {shown:>8} {statistics.median(values) * 1000:>7.1f}"
                f" {percentile(values, 0.95) * 1000:>7.1f} {max(values) * 1000:>7.1f}"
            )
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
