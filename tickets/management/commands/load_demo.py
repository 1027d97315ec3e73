from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from guides import services as guide_services
from guides.models import Company, Guide, Tag
from helpdesk.services import staff_language_set
from tickets import roles
from tickets import services as ticket_services
from tickets.models import (
    AgentProfile,
    BusinessSchedule,
    CannedReply,
    Priority,
    Queue,
    RoutingRule,
    SLAPolicy,
    Ticket,
)
from tickets.services.routing import routing_changed

# The demo guides are the guides app's data; this command (in tickets, as it also builds queues,
# agents and tickets) loads them through that app's importer.
DEMO_GUIDES = Path(apps.get_app_config("guides").path) / "demo_guides"

# Demo-only accounts with published passwords: never load them into a real deployment.
DEMO_USERS = [
    {
        "username": "supervisor",
        "password": "demo-supervisor-2026",
        "first_name": "Salma",
        "last_name": "Haddad",
        "email": "supervisor@helpdesk.example",
        "is_superuser": True,
        "role": roles.SUPERVISOR,
        "note": "supervisor (superuser; all of the admin)",
    },
    {
        "username": "agent.ar",
        "password": "demo-agent-ar-2026",
        # Karim's admin opens in Arabic on any browser (helpdesk.staff_language).
        "admin_language": "ar",
        "first_name": "Karim",
        "last_name": "Nassar",
        "email": "karim@helpdesk.example",
        "is_superuser": False,
        "role": roles.AGENT,
        "note": "agent, speaks Arabic",
    },
    {
        "username": "agent.en",
        "password": "demo-agent-en-2026",
        "first_name": "Emma",
        "last_name": "Clarke",
        "email": "emma@helpdesk.example",
        "is_superuser": False,
        "role": roles.AGENT,
        "note": "agent, speaks English",
    },
    {
        "username": "author",
        "password": "demo-author-2026",
        "first_name": "Amira",
        "last_name": "Saleh",
        "email": "author@helpdesk.example",
        "is_superuser": False,
        "role": roles.AUTHOR,
        "note": "author (guides only, no tickets)",
    },
]


# Who answers the demo escalations. Routing compares a ticket's language with the agent's
# exactly, so each billing queue is staffed by the agent who speaks its language.
DEMO_AGENTS = {"agent.ar": ["ar"], "agent.en": ["en"]}
DEMO_QUEUES: list[dict[str, Any]] = [
    {
        "slug": "billing-ar",
        "name": "Billing (Arabic)",
        "languages": ["ar"],
        "members": ["agent.ar"],
        "auto_assign": True,
    },
    {
        "slug": "billing-en",
        "name": "Billing (English)",
        "languages": ["en"],
        "members": ["agent.en"],
        "auto_assign": True,
    },
    # Tickets wait in General until an agent claims one: the demo shows both ways of working.
    {
        "slug": "general",
        "name": "General",
        "languages": [],
        "members": ["agent.ar", "agent.en"],
        "auto_assign": False,
    },
]
# First match wins. Each rule names its language: an Arabic ticket in an English-only queue
# would match no agent and wait unassigned, so "billing, any language" becomes one rule per
# language. Guides with none of these tags (Netflix, WhatsApp, Nile Telecom, PayPal's
# "payments") fall through to General.
DEMO_RULES = [
    (10, "Payments in Arabic", "payment", "ar", "billing-ar", Priority.HIGH),
    (20, "Payments in English", "payment", "en", "billing-en", Priority.HIGH),
    (30, "Billing in Arabic", "billing", "ar", "billing-ar", Priority.NORMAL),
    (40, "Billing in English", "billing", "en", "billing-en", Priority.NORMAL),
    (50, "Cards in Arabic", "card", "ar", "billing-ar", Priority.NORMAL),
    (60, "Cards in English", "card", "en", "billing-en", Priority.NORMAL),
]
# Minutes to the first response and to resolution, the same in every demo queue.
DEMO_SLA_MINUTES = {
    Priority.URGENT: (15, 4 * 60),
    Priority.HIGH: (30, 8 * 60),
    Priority.NORMAL: (2 * 60, 24 * 60),
    Priority.LOW: (8 * 60, 72 * 60),
}


# (language, title, body, status after, internal note): ready answers agents pick on the work
# page. The placeholders are filled in for each ticket (tickets.services.canned_replies).
DEMO_CANNED_REPLIES = (
    (
        "en", "Looking into it",
        "Hello {customer_name},\n\nThanks for the details in {reference}. I am checking this "
        "now and will write again as soon as I know more.\n\n{agent_name}",
        "", "",
    ),
    (
        "en", "Need more details",
        "Hello {customer_name},\n\nTo go on, could you tell me which device and app version "
        "you use, and what the screen shows when it fails? You can answer here: "
        "{status_link}\n\n{agent_name}",
        "pending", "Asked the customer for device and version.",
    ),
    (
        "en", "Solved: please confirm",
        "Hello {customer_name},\n\nThe fix is in place. If anything still goes wrong, just "
        "reply and {reference} opens again.\n\n{agent_name}",
        "solved", "",
    ),
    (
        "ar", "نتابع طلبك",
        "مرحبًا {customer_name}،\n\nشكرًا على التفاصيل في الطلب {reference}. أراجع المشكلة "
        "الآن وسأكتب إليك حين تتضح الصورة.\n\n{agent_name}",
        "", "",
    ),
    (
        "ar", "نحتاج إلى تفاصيل أكثر",
        "مرحبًا {customer_name}،\n\nلنكمل، هل يمكنك إخبارنا بنوع الجهاز وإصدار التطبيق، وبما "
        "يظهر على الشاشة عند حدوث الخطأ؟ يمكنك الرد من هنا: {status_link}\n\n{agent_name}",
        "pending", "طلبنا من العميل نوع الجهاز والإصدار.",
    ),
    (
        "ar", "تم الحل: نرجو التأكيد",
        "مرحبًا {customer_name}،\n\nأصلحنا المشكلة. إن عادت، ما عليك إلا الرد وسيُفتح الطلب "
        "{reference} من جديد.\n\n{agent_name}",
        "solved", "",
    ),
)  # fmt: skip


class DemoUserOutcome(StrEnum):
    """What demo_user_ensure did with one demo user, as load_demo reports it."""

    CREATED = "created"
    KEPT = "exists, password unchanged"
    RESET = "exists, password set again"


def demo_user_ensure(spec: dict[str, Any], *, reset_password: bool) -> DemoUserOutcome:
    """Create the demo user of ``spec`` once, with its name, role and published password.

    An existing one is left as it is: a new password hash would sign the user out of every
    session (Django checks sessions against the hash) and undo a password changed on purpose,
    and its name or role may have been changed on purpose too. ``reset_password`` sets the
    published password again, and nothing else."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=spec["username"]).first()
    if user is not None:
        if not reset_password:
            return DemoUserOutcome.KEPT
        user.set_password(spec["password"])
        user.save(update_fields=["password"])
        return DemoUserOutcome.RESET
    user = user_model(
        username=spec["username"],
        first_name=spec["first_name"],
        last_name=spec["last_name"],
        email=spec["email"],
        is_staff=True,
        is_superuser=spec["is_superuser"],
    )
    user.set_password(spec["password"])
    user.save()
    group = Group.objects.filter(name=spec["role"]).first()
    if group is None:  # the groups come with migrate; a half-migrated install gets them now
        roles.roles_sync()
        group = Group.objects.get(name=spec["role"])
    user.groups.set([group])
    if spec.get("admin_language"):
        staff_language_set(user=user, language=spec["admin_language"])
    return DemoUserOutcome.CREATED


class Command(BaseCommand):
    help = (
        "Load the demo guides (through import_guides), the demo users, and the queues, agents,"
        " routing rules and SLA policies that route the demo escalations. DEBUG only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="load even with DEBUG off (the demo passwords are public: never in production)",
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="set the demo users' published passwords again (signs them out everywhere)",
        )
        parser.add_argument(
            "--tickets",
            action="store_true",
            help="also escalate a few demo guides into tickets, for the agents' workspace",
        )

    def handle(
        self, *args, force: bool, tickets: bool, reset_passwords: bool, verbosity: int, **options
    ) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "refusing to load demo users with public passwords while DEBUG is off"
                " (use --force on a throw-away installation)"
            )
        call_command("import_guides", str(DEMO_GUIDES), verbosity=verbosity)
        with transaction.atomic():
            users = {
                spec["username"]: demo_user_ensure(spec, reset_password=reset_passwords)
                for spec in DEMO_USERS
            }
            self._routing_upsert()
            demo_schedules_upsert()
            self._canned_replies_upsert()
            # The demo author writes every demo company's guides: she sees their statistics
            # and content gaps, and decides on the steps agents propose for them.
            author = get_user_model().objects.get(username="author")
            for company in Company.objects.all():
                company.authors.add(author)
        self.stdout.write(
            f"Demo routing: {len(DEMO_QUEUES)} queues (General is the fallback, where agents"
            " claim tickets),"
            f" {len(DEMO_AGENTS)} agents, {len(DEMO_RULES)} routing rules,"
            f" {len(DEMO_QUEUES) * len(DEMO_SLA_MINUTES)} SLA policies; supervisor supervises all."
        )
        if tickets:
            made = self._tickets_escalate()
            self.stdout.write(f"Demo tickets: {made} escalated through the real services.")
        self.stdout.write("Demo accounts (demo only, passwords are public):")
        for spec in DEMO_USERS:
            self.stdout.write(
                f"  {spec['username']:<11} {spec['password']:<22} {spec['note']}"
                f" [{users[spec['username']]}]"
            )
        if not reset_passwords and DemoUserOutcome.KEPT in users.values():
            self.stdout.write(
                "Existing demo users were left as they are, password included (changing it would"
                " sign them out); load_demo --reset-passwords sets the passwords above again."
            )

    def _routing_upsert(self) -> None:
        """Create or reset the demo routing; running it again changes nothing else.

        Agents keep their open_tickets and last_assigned_at: the assignment services own those
        counters, and resetting them under existing tickets would let agents go over capacity.
        """
        usernames = [*DEMO_AGENTS, "supervisor"]
        users = {u.username: u for u in get_user_model().objects.filter(username__in=usernames)}
        agents = {}
        for username, languages in DEMO_AGENTS.items():
            agents[username], _created = AgentProfile.objects.update_or_create(
                user=users[username],
                defaults={"languages": languages, "capacity": 10, "is_available": True},
            )
        # One fallback queue only (a partial unique constraint): General takes the role.
        Queue.objects.filter(is_fallback=True).exclude(slug="general").update(is_fallback=False)
        queues = {}
        for spec in DEMO_QUEUES:
            queue, _created = Queue.objects.update_or_create(
                slug=spec["slug"],
                defaults={
                    "name": spec["name"],
                    "languages": spec["languages"],
                    "auto_assign": spec["auto_assign"],
                    "is_fallback": spec["slug"] == "general",
                },
            )
            queue.members.add(*(agents[username] for username in spec["members"]))
            queue.supervisors.add(users["supervisor"])
            for priority, (first_response, resolution) in DEMO_SLA_MINUTES.items():
                SLAPolicy.objects.update_or_create(
                    queue=queue,
                    priority=priority,
                    defaults={
                        "first_response_minutes": first_response,
                        "resolution_minutes": resolution,
                    },
                )
            queues[queue.slug] = queue
        for position, name, tag_slug, language, queue_slug, priority in DEMO_RULES:
            tag, _created = Tag.objects.get_or_create(slug=tag_slug)
            RoutingRule.objects.update_or_create(
                name=name,
                defaults={
                    "position": position,
                    "is_active": True,
                    "company": None,
                    "tag": tag,
                    "language": language,
                    "keywords": "",
                    "queue": queues[queue_slug],
                    "priority": priority,
                },
            )

    def _canned_replies_upsert(self) -> None:
        """The demo's canned replies, for every queue; running it again keeps their counts."""
        for language, title, body, status_after, note in DEMO_CANNED_REPLIES:
            CannedReply.objects.update_or_create(
                queue=None,
                language=language,
                title=title,
                defaults={"body": body, "status_after": status_after, "internal_note": note},
            )

    def _tickets_escalate(self) -> int:
        """Customers walk a few demo guides, fail a step and ask for a person: the same
        services as the web pages, so routing, assignment and SLA clocks are the real ones.
        Runs once: a second load finds the demo tickets and adds none."""
        if Ticket.objects.filter(requester_email__endswith="@customer.example").exists():
            return 0
        made = 0
        for number, (company, language, slug, note, description) in enumerate(DEMO_ESCALATIONS):
            guide = Guide.objects.filter(
                company__slug=company, language=language, slug=slug
            ).first()
            if guide is None:
                continue
            attempt, _token = guide_services.attempt_start(guide=guide)
            for step in guide.steps.order_by("position")[:2]:
                guide_services.step_outcome_record(
                    attempt=attempt, step_id=step.pk, outcome="did_not_work", note=note
                )
            guide_services.attempt_contact_submit(
                attempt=attempt, description=description, name=f"Demo customer {number + 1}",
                email=f"customer{number + 1}@customer.example",
            )  # fmt: skip
            ticket = ticket_services.ticket_create_from_attempt(attempt_id=attempt.pk)
            if ticket is not None:
                made += 1
                if number == 0:
                    ticket_services.ticket_customer_reply(
                        ticket=ticket, body="I tried again this morning, same error."
                    )
        return made


# (company, language, guide slug, the customer's note on the failed steps, their request)
DEMO_ESCALATIONS = [
    ("spotify", "en", "cant-change-payment-card", "It says the card was declined.",
     "My card keeps getting declined\nI updated the card twice and it still fails."),
    ("spotify", "ar", "cant-change-payment-card", "تظهر رسالة أن البطاقة مرفوضة.",
     "لا أستطيع تغيير بطاقة الدفع\nجربت بطاقتين مختلفتين ولم تنجح أي منهما."),
    ("netflix", "en", "password-reset-email-not-arriving", "Nothing in spam either.",
     "The reset e-mail never arrives\nI asked for it four times today."),
    ("whatsapp", "ar", "verification-code-not-arriving", "لم يصل أي رمز.",
     "رمز التحقق لا يصل\nانتظرت ساعة كاملة."),
]  # fmt: skip


# Business hours of the demo queues (docs/business-hours.md): the Arabic desk works the Saudi
# week, the English one the British week; General runs around the clock.
# queue slug -> (schedule name, time zone, weekdays (Monday = 0), from, until, holidays)
DEMO_SCHEDULES = {
    "billing-ar": (
        "Riyadh office", "Asia/Riyadh", (6, 0, 1, 2, 3), time(9), time(17),
        [(date(2026, 9, 23), "Saudi National Day"), (date(2027, 2, 22), "Founding Day")],
    ),
    "billing-en": (
        "London office", "Europe/London", (0, 1, 2, 3, 4), time(9), time(17),
        [(date(2026, 12, 25), "Christmas Day"), (date(2026, 12, 28), "Boxing Day (substitute)")],
    ),
}  # fmt: skip


def demo_schedules_upsert() -> None:
    """Create or reset the demo schedules and give them to their queues."""
    for slug, (name, zone, weekdays, opens, closes, holidays) in DEMO_SCHEDULES.items():
        schedule, _created = BusinessSchedule.objects.update_or_create(
            name=name, defaults={"time_zone": zone}
        )
        schedule.working_hours.all().delete()
        for weekday in weekdays:
            schedule.working_hours.create(weekday=weekday, starts_at=opens, ends_at=closes)
        for day, holiday in holidays:
            schedule.holidays.update_or_create(date=day, defaults={"name": holiday})
        Queue.objects.filter(slug=slug).update(schedule=schedule)
    routing_changed()  # the bulk update above sends no post_save
