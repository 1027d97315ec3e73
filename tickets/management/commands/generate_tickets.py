"""Fill the database with a realistic ticket history, fast: the data set of the benchmark.

Generated rows bypass the services on purpose (a million escalations through routing, Celery
and e-mail would take hours); instead each row is built the way the services would have left
it, and the counters the services maintain (AgentProfile.open_tickets) are recomputed at the
end in one UPDATE. On PostgreSQL rows are streamed with COPY, elsewhere bulk_create in batches.
"""

from __future__ import annotations

import json
import math
import random
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from guides.models import Attempt, Company, Guide, Step, StepOutcomeKind
from tickets import roles
from tickets.events import event_body
from tickets.models import (
    OPEN_TICKET_STATUSES,
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    AgentProfile,
    Priority,
    Queue,
    SLAPolicy,
    Ticket,
    TicketEvent,
)

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


@dataclass
class GuideInfo:
    id: int
    company_id: int
    title: str
    steps: list[tuple[int, str, str]]  # position, kind, title


@dataclass
class AgentInfo:
    profile_id: int
    user_id: int
    name: str


@dataclass
class Setup:
    guides: dict[str, list[GuideInfo]]
    companies: list[int]
    queues: dict[str, list[tuple[int, str, int]]]  # language -> (queue id, name, weight)
    sla: dict[tuple[int, int], tuple[int, int]]
    agents: dict[tuple[int, str], list[AgentInfo]]  # (queue id, language) -> members
    room: dict[int, int] = field(default_factory=dict)  # agent profile id -> open tickets left


class Table:
    """The columns of one model's table that a batch writes, the model's default for the rest."""

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        self.model = model
        self.name = model._meta.db_table
        fields = {f.column: f for f in model._meta.concrete_fields}
        unknown = set(columns) - set(fields)
        if unknown:
            raise CommandError(f"{self.name} has no columns {sorted(unknown)}")
        self.extra = [f for f in fields.values() if f.column not in columns and not f.primary_key]
        for extra in self.extra:
            if (
                extra.has_default()
                and callable(extra.default)
                and extra.default not in (dict, list)
            ):
                raise CommandError(f"{self.name}.{extra.column} needs a generated value")
        self.columns = [*columns, *(f.column for f in self.extra)]
        self.attnames = [fields[c].attname for c in self.columns]
        self.json_positions = [
            i for i, c in enumerate(self.columns) if isinstance(fields[c], models.JSONField)
        ]
        self.extra_values = tuple(f.get_default() for f in self.extra)

    def rows(self, rows: list[tuple]) -> Iterator[tuple]:
        extra = self.extra_values
        for row in rows:
            yield row + extra


class Command(BaseCommand):
    help = (
        "Generate a realistic ticket history (queues, agents, tickets with attempts, snapshots"
        " and messages) for load tests and the benchmark. Development databases only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tickets", type=int, required=True, help="how many tickets to add (required)"
        )
        parser.add_argument("--batch", type=int, default=20_000, help="tickets per transaction")
        parser.add_argument("--seed", type=int, default=1, help="random seed (same data again)")
        parser.add_argument(
            "--force", action="store_true", help="run even with DEBUG off (never in production)"
        )

    def handle(self, *args, tickets: int, batch: int, seed: int, force: bool, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "refusing to write generated tickets while DEBUG is off"
                " (use --force on a throw-away database)"
            )
        if tickets < 1:
            raise CommandError("--tickets must be at least 1")
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        started = time.monotonic()
        # Test data, not secrets: a seeded generator so that a run can be repeated.
        rng = random.Random(seed)  # noqa: S311
        with transaction.atomic():
            setup = self._setup(rng)
        self.stdout.write(
            f"Setup: {len(setup.companies)} companies,"
            f" {sum(len(g) for g in setup.guides.values())} guides,"
            f" {len({q for qs in setup.queues.values() for q, _n, _w in qs})} queues,"
            f" {len({a.profile_id for agents in setup.agents.values() for a in agents})} agents"
            f" ({time.monotonic() - started:.1f} s)"
        )
        writer = _CopyWriter() if connection.vendor == "postgresql" else _BulkWriter()
        references = set(Ticket.objects.values_list("reference", flat=True).iterator(10_000))
        generator = _TicketGenerator(rng=rng, setup=setup, references=references)

        done = events = 0
        generation_started = time.monotonic()
        while done < tickets:
            size = min(batch, tickets - done)
            with transaction.atomic():
                attempt_start = writer.ids_reserve(Attempt, size)
                ticket_start = writer.ids_reserve(Ticket, size)
                attempts, ticket_rows, event_rows = generator.batch(
                    size, attempt_start=attempt_start, ticket_start=ticket_start
                )
                writer.write(ATTEMPTS, attempts)
                writer.write(TICKETS, ticket_rows)
                writer.write(EVENTS, event_rows)
            done += size
            events += len(event_rows)
            elapsed = time.monotonic() - generation_started
            rate = done / elapsed if elapsed else 0.0
            eta = (tickets - done) / rate if rate else 0.0
            self.stdout.write(
                f"  {done:>10,} / {tickets:,} tickets ({100 * done / tickets:5.1f} %)"
                f"  {events:,} events  {rate:,.0f} tickets/s  ETA {eta:,.0f} s"
            )
            self.stdout.flush()

        finishing = time.monotonic()
        agents_counted = _open_tickets_recount()
        self._analyze()
        self.stdout.write(
            f"Recounted the open tickets of {agents_counted} agents and analysed the tables"
            f" ({time.monotonic() - finishing:.1f} s)."
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {tickets:,} tickets, {tickets:,} attempts and {events:,} events"
                f" in {time.monotonic() - started:.1f} s ({connection.vendor})."
            )
        )

    # --- setup: the small tables, through the ORM ---------------------------------------------

    def _setup(self, rng: random.Random) -> Setup:
        guides = self._guides()
        companies = sorted({g.company_id for gs in guides.values() for g in gs})
        queues: dict[str, list[tuple[int, str, int]]] = {"ar": [], "en": []}
        sla: dict[tuple[int, int], tuple[int, int]] = {}
        queue_objects = {}
        for slug, name, languages, weight in QUEUES:
            queue, _created = Queue.objects.get_or_create(
                slug=slug, defaults={"name": name, "languages": languages}
            )
            queue_objects[slug] = queue
            for language in queue.languages or ["ar", "en"]:
                if language in queues:
                    queues[language].append((queue.pk, queue.name, weight))
            for priority, (first, resolution) in SLA_MINUTES.items():
                policy, _created = SLAPolicy.objects.get_or_create(
                    queue=queue,
                    priority=priority,
                    defaults={"first_response_minutes": first, "resolution_minutes": resolution},
                )
                sla[(queue.pk, int(priority))] = (
                    policy.first_response_minutes,
                    policy.resolution_minutes,
                )
        if not Queue.objects.filter(is_fallback=True).exists():
            Queue.objects.filter(pk=queue_objects["general"].pk).update(is_fallback=True)

        agent_group = Group.objects.get(name=roles.AGENT)
        supervisor_group = Group.objects.get(name=roles.SUPERVISOR)
        supervisor = _user_ensure(f"{USERNAME_PREFIX}supervisor", "Supervisor", "Bench")
        supervisor.groups.add(supervisor_group)
        names = [*TEXTS["en"]["first"], *(n.split("|")[1].title() for n in TEXTS["ar"]["first"])]
        by_language = {
            "ar": [s for s, _n, langs, _w in QUEUES if "ar" in langs],
            "en": [s for s, _n, langs, _w in QUEUES if "en" in langs],
        }
        shared = [s for s, _n, langs, _w in QUEUES if not langs]
        for number in range(1, AGENT_COUNT + 1):
            # Two in five speak Arabic, two in five English, one in five both.
            languages = [["ar"], ["ar"], ["en"], ["en"], ["ar", "en"]][number % 5]
            user = _user_ensure(
                f"{USERNAME_PREFIX}agent{number:02d}", names[number % len(names)], f"A{number:02d}"
            )
            user.groups.add(agent_group)
            profile, created = AgentProfile.objects.get_or_create(
                user=user, defaults={"languages": languages, "capacity": AGENT_CAPACITY}
            )
            if created:
                slugs = [rng.choice(by_language[lang]) for lang in languages]
                slugs.append(rng.choice(shared))
                if len(languages) == 1:
                    slugs.append(rng.choice(by_language[languages[0]]))
                for slug in set(slugs):
                    queue_objects[slug].members.add(profile)

        agents: dict[tuple[int, str], list[AgentInfo]] = {}
        memberships = Queue.members.through.objects.select_related("agentprofile__user")
        for membership in memberships:
            profile = membership.agentprofile
            for language in profile.languages or ["ar", "en"]:
                agents.setdefault((membership.queue_id, language), []).append(
                    AgentInfo(profile.pk, profile.user_id, str(profile))
                )
        open_now = dict(
            AgentProfile.objects.annotate(
                n=Count("tickets", filter=Q(tickets__status__in=OPEN_TICKET_STATUSES))
            ).values_list("pk", "n")
        )
        room = {
            pk: capacity - open_now.get(pk, 0)
            for pk, capacity in AgentProfile.objects.values_list("pk", "capacity")
        }
        setup = Setup(guides, companies, queues, sla, agents, room)
        return setup

    def _guides(self) -> dict[str, list[GuideInfo]]:
        if not Guide.objects.filter(status=Guide.Status.PUBLISHED).exists():
            for company_name, slug, language, title, steps in FALLBACK_GUIDES:
                company, _created = Company.objects.get_or_create(
                    slug=slug, defaults={"name": company_name}
                )
                guide = Guide.objects.create(
                    company=company,
                    slug=f"{slug}-help",
                    translation_key=f"{slug}-help",
                    language=language,
                    title=title,
                    status=Guide.Status.PUBLISHED,
                )
                kinds = [Step.Kind.PROCEDURE, Step.Kind.ALTERNATIVE, Step.Kind.LAST_RESORT]
                Step.objects.bulk_create(
                    Step(guide=guide, position=i, kind=kinds[min(i, 3) - 1], title=t)
                    for i, t in enumerate(steps, start=1)
                )
        guides: dict[str, list[GuideInfo]] = {"ar": [], "en": []}
        published = Guide.objects.filter(status=Guide.Status.PUBLISHED).prefetch_related("steps")
        for guide in published:
            guide_steps = [(s.position, s.kind, s.title) for s in guide.steps.all()]
            if guide_steps and guide.language in guides:
                guides[guide.language].append(
                    GuideInfo(guide.pk, guide.company_id, guide.title[:300], guide_steps)
                )
        if not guides["ar"] or not guides["en"]:
            raise CommandError("need published guides with steps in Arabic and English")
        return guides

    def _analyze(self) -> None:
        if connection.vendor != "postgresql":
            return
        tables = [Attempt._meta.db_table, Ticket._meta.db_table, TicketEvent._meta.db_table]
        with connection.cursor() as cursor:
            # VACUUM also fills the visibility map, so index-only scans work at once (as they
            # would after autovacuum's first pass); it cannot run inside a transaction.
            verb = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            for table in tables:
                cursor.execute(f"{verb} {connection.ops.quote_name(table)}")


def _user_ensure(username: str, first_name: str, last_name: str):
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={"first_name": first_name, "last_name": last_name, "is_staff": True},
    )
    if created:
        # No password: the benchmark logs these users in with Client.force_login.
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _open_tickets_recount() -> int:
    """Set every agent's open_tickets to their assigned open tickets, in one UPDATE."""
    open_assigned = (
        Ticket.objects.filter(assignee=OuterRef("pk"), status__in=OPEN_TICKET_STATUSES)
        .order_by()
        .values("assignee")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return AgentProfile.objects.update(open_tickets=Coalesce(Subquery(open_assigned), 0))


# --- the rows ----------------------------------------------------------------------------------

ATTEMPTS = Table(
    Attempt,
    [
        "id", "guide_id", "company_id", "token_hash", "language", "status", "started_at",
        "updated_at", "finished_at", "contact_name", "contact_email", "description",
        "escalation_requested_at", "escalation_deliveries",
    ],
)  # fmt: skip
TICKETS = Table(
    Ticket,
    [
        "id", "reference", "attempt_id", "company_id", "guide_id", "language", "subject",
        "description", "requester_name", "requester_email", "tried_steps", "queue_id",
        "assignee_id", "status", "priority", "routing_reason", "created_at", "updated_at",
        "first_response_due_at", "resolution_due_at", "first_responded_at", "solved_at",
        "closed_at", "first_response_breached", "resolution_breached", "sla_breached",
        "customer_notified_at", "sla_paused_at",
    ],
)  # fmt: skip
EVENTS = Table(TicketEvent, ["ticket_id", "kind", "author_id", "body", "change", "created_at"])


def _weighted(rng: random.Random, shares: list[tuple[Any, float]]) -> Any:
    point = rng.random() * sum(share for _value, share in shares)
    for value, share in shares:
        point -= share
        if point < 0:
            return value
    return shares[-1][0]


class _TicketGenerator:
    def __init__(self, *, rng: random.Random, setup: Setup, references: set[str]) -> None:
        self.rng = rng
        self.setup = setup
        self.references = references
        self.now = timezone.now().timestamp()
        self.room = setup.room
        self.queue_choices = {
            lang: ([q for q in queues], [w for _id, _name, w in queues])
            for lang, queues in setup.queues.items()
        }
        status_labels = {s.value: str(s.label) for s in Ticket.Status}
        self.status_label = status_labels

    def _reference(self) -> str:
        choices = self.rng.choices
        while True:
            reference = "".join(choices(REFERENCE_ALPHABET, k=REFERENCE_LENGTH))
            if reference not in self.references:
                self.references.add(reference)
                return reference

    def _agent(self, queue_id: int, language: str, *, holds_open: bool) -> AgentInfo | None:
        members = self.setup.agents.get((queue_id, language))
        if not members:
            return None
        if not holds_open:
            return self.rng.choice(members)
        for _try in range(4):
            agent = self.rng.choice(members)
            if self.room.get(agent.profile_id, 0) > 0:
                self.room[agent.profile_id] -= 1
                return agent
        return None  # the queue's agents are full: it waits unassigned, as it would live

    def batch(
        self, size: int, *, attempt_start: int, ticket_start: int
    ) -> tuple[list[tuple], list[tuple], list[tuple]]:
        rng = self.rng
        now = self.now
        attempts: list[tuple] = []
        tickets: list[tuple] = []
        events: list[tuple] = []
        stamp = _stamp
        for offset in range(size):
            attempt_id, ticket_id = attempt_start + offset, ticket_start + offset
            language = "ar" if rng.random() < ARABIC_SHARE else "en"
            texts = TEXTS[language]
            status = _weighted(rng, STATUS_SHARES)
            priority = _weighted(rng, PRIORITY_SHARES)
            queues, weights = self.queue_choices[language]
            queue_id, queue_name, _weight = rng.choices(queues, weights)[0]
            first_minutes, resolution_minutes = self.setup.sla[(queue_id, priority)]

            # The clock: how long the first reply and the resolution took (log-normal around a
            # fraction of the SLA target: about one closed ticket in four misses a target).
            response = first_minutes * 60 * rng.lognormvariate(-0.7, 0.6)
            resolution = max(
                response + 300, resolution_minutes * 60 * rng.lognormvariate(-0.8, 0.7)
            )
            if status == "closed":
                # More tickets lately than two years ago: the business grew.
                age = (
                    8 * DAY + resolution + (HISTORY_DAYS - 9) * DAY * (1 - math.sqrt(rng.random()))
                )
                created = now - age
            elif status == "solved":
                created = now - rng.uniform(0, 7 * DAY) - resolution
            elif status == "new":
                created = now - min(rng.expovariate(1 / (0.5 * DAY)), 5 * DAY)
            else:
                created = now - min(rng.expovariate(1 / (4 * DAY)), 30 * DAY)
                response = min(response, (now - created) * 0.5)
            first_due = created + first_minutes * 60
            resolution_due = created + resolution_minutes * 60
            responded = None if status == "new" else created + response
            solved = created + resolution if status in ("solved", "closed") else None
            closed = (
                solved + 7 * DAY + rng.uniform(0, 3600) if solved and status == "closed" else None
            )
            first_breached = (responded or now) > first_due
            resolution_breached = (solved or now) > resolution_due

            if status == "new":
                unassigned = rng.random() < NEW_UNASSIGNED_SHARE
            elif status == "open":
                unassigned = rng.random() < OPEN_UNASSIGNED_SHARE
            else:
                unassigned = False
            holds_open = status in OPEN_TICKET_STATUSES
            agent = None if unassigned else self._agent(queue_id, language, holds_open=holds_open)
            replier = agent or self._agent(queue_id, language, holds_open=False)

            # The customer: a guide they followed (and the steps that failed), or the form.
            problem = rng.choice(texts["problems"])
            detail = rng.choice(texts["details"]).format(n=rng.randrange(100_000, 999_999))
            description = f"{problem} {detail}".strip()
            first, first_ascii = _name(rng.choice(texts["first"]))
            last, last_ascii = _name(rng.choice(texts["last"]))
            email = f"{first_ascii}.{last_ascii}{rng.randrange(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"
            if rng.random() < CONTACT_FORM_SHARE:
                guide_id = None
                company_id = rng.choice(self.setup.companies) if rng.random() < 0.7 else None
                subject = problem[:120]
                tried: list[dict] = []
                routing_reason = f"No routing rule matched; sent to {queue_name}."
            else:
                guide = rng.choice(self.setup.guides[language])
                guide_id, company_id, subject = guide.id, guide.company_id, guide.title
                tried_count = rng.randint(1, len(guide.steps))
                started = created - 60 * (2 + 3 * tried_count)
                tried = [
                    {
                        "position": position,
                        "title": title,
                        "kind": kind,
                        "outcome": rng.choice(STEP_FAILURES),
                        "note": rng.choice(texts["notes"]),
                        "recorded_at": stamp(started + 120 * (n + 1)),
                    }
                    for n, (position, kind, title) in enumerate(guide.steps[:tried_count])
                ]
                routing_reason = f"Routed to {queue_name} by language and topic."

            created_at = _dt(created)
            attempts.append(
                (
                    attempt_id, guide_id, company_id, secrets.token_hex(32), language,
                    Attempt.Status.ESCALATED.value, _dt(created - 60 * (3 + 3 * len(tried))),
                    created_at, created_at, f"{first} {last}", email, description, created_at, 1,
                )
            )  # fmt: skip

            # The thread, the way the services write it.
            thread: list[tuple] = [
                (ticket_id, "customer_message", None, description, {}, created_at)
            ]
            if status == "new":
                if agent is None:
                    thread.append((ticket_id, "routed", None, routing_reason, {}, created_at))
                else:
                    facts = {"from": None, "to": agent.profile_id, "to_name": agent.name}
                    thread.append(
                        (ticket_id, "assigned", None, event_body("assigned", facts), facts,
                         _dt(created + 1))
                    )  # fmt: skip
            else:
                assert responded is not None
                author = replier.user_id if replier else None
                thread.append(
                    (ticket_id, "agent_reply", author, rng.choice(texts["replies"]), {},
                     _dt(responded))
                )  # fmt: skip
                if status == "open" and agent is None:
                    facts = {
                        "from": replier.profile_id if replier else None, "to": None,
                        "from_name": replier.name if replier else None,
                    }  # fmt: skip
                    # With no agent to name, the sentence falls back to this body.
                    body = event_body("unassigned", facts) or "Back in the queue."
                    thread.append(
                        (ticket_id, "unassigned", None, body, facts, _dt(responded + 60))
                    )  # fmt: skip
                elif status in ("open", "pending"):
                    thread.append(self._status_event(ticket_id, "new", status, author, responded))
                else:
                    assert solved is not None
                    thread.append(self._status_event(ticket_id, "open", "solved", author, solved))
                    if closed is not None:
                        thread.append(
                            self._status_event(ticket_id, "solved", "closed", None, closed)
                        )
            events.extend(thread)
            updated_at = max(event[5] for event in thread)

            tickets.append(
                (
                    ticket_id, self._reference(), attempt_id, company_id, guide_id, language,
                    subject, description, f"{first} {last}", email, tried, queue_id,
                    agent.profile_id if agent else None, status, priority, routing_reason,
                    created_at, updated_at, _dt(first_due), _dt(resolution_due),
                    _dt(responded) if responded else None, _dt(solved) if solved else None,
                    _dt(closed) if closed else None, first_breached, resolution_breached,
                    first_breached or resolution_breached, _dt(created + 2),
                    # Pending since the reply that asked the customer something: paused.
                    _dt(responded + 1)
                    if responded is not None and status == "pending" and not resolution_breached
                    else None,
                )
            )  # fmt: skip
        return attempts, tickets, events

    def _status_event(
        self, ticket_id: int, before: str, after: str, author: int | None, at: float
    ) -> tuple:
        label = self.status_label
        return (
            ticket_id, "status_changed", author, f"Status: {label[before]} → {label[after]}.",
            {"from": before, "to": after}, _dt(at + 1),
        )  # fmt: skip


def _name(spec: str) -> tuple[str, str]:
    written, _bar, ascii_name = spec.partition("|")
    return written, (ascii_name or written).lower()


def _dt(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _stamp(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


# --- the writers -------------------------------------------------------------------------------


class _CopyWriter:
    """PostgreSQL: ids reserved from the table's sequence, rows streamed with COPY."""

    def ids_reserve(self, model: type[models.Model], count: int) -> int:
        table = model._meta.db_table
        with connection.cursor() as cursor:
            # One statement: nextval() and the jump are not interleaved with another session's
            # nextval() in between in practice; a concurrent insert would at worst fail on the
            # primary key, never corrupt a row.
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'),"
                " nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
                [table, table, count],
            )
            last = cursor.fetchone()[0]
        return last - count + 1

    def write(self, table: Table, rows: list[tuple]) -> None:
        columns = ", ".join(connection.ops.quote_name(c) for c in table.columns)
        json_positions = table.json_positions
        dumps = json.dumps
        sql = f"COPY {connection.ops.quote_name(table.name)} ({columns}) FROM STDIN"
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(sql) as copy:
                for row in table.rows(rows):
                    if json_positions:
                        values = list(row)
                        for i in json_positions:
                            values[i] = dumps(values[i], ensure_ascii=False)
                        copy.write_row(values)
                    else:
                        copy.write_row(row)


class _BulkWriter:
    """Other databases (SQLite): explicit ids after the current maximum, bulk_create."""

    def ids_reserve(self, model: type[models.Model], count: int) -> int:
        current = model._default_manager.aggregate(top=models.Max("pk"))["top"] or 0
        return current + 1

    def write(self, table: Table, rows: list[tuple]) -> None:
        model = table.model
        attnames = table.attnames
        objects = [model(**dict(zip(attnames, row, strict=True))) for row in table.rows(rows)]
        model._default_manager.bulk_create(objects, batch_size=2_000)
