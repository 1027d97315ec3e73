import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from guides.models import (
    Attempt,
    Company,
    Guide,
    GuideVersion,
    Step,
    StepOutcome,
    Tag,
    attempt_token_hash,
)
from tickets import roles
from tickets.models import AgentProfile, ApiToken, Queue, Ticket, api_token_key_hash


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")
    website = "https://company.example/"


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tag-{n}")


class GuideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Guide
        skip_postgeneration_save = True

    company = factory.SubFactory(CompanyFactory)
    slug = factory.Sequence(lambda n: f"guide-{n}")
    language = "en"
    translation_key = factory.LazyAttribute(lambda guide: guide.slug)
    title = factory.Sequence(lambda n: f"I can't do thing number {n}")
    summary = "When the thing fails, try these steps in order."
    status = Guide.Status.PUBLISHED

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set(TagFactory(slug=slug) for slug in extracted)


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    guide = factory.SubFactory(GuideFactory)
    position = factory.Sequence(lambda n: n + 1)
    kind = Step.Kind.PROCEDURE
    title = factory.Sequence(lambda n: f"Step {n}")
    body = "1. Open the app.\n2. Tap the button."


class GuideVersionFactory(factory.django.DjangoModelFactory):
    """A version of a guide whose snapshot is the guide's steps as they are now."""

    class Meta:
        model = GuideVersion

    guide = factory.SubFactory(GuideFactory)
    number = factory.LazyAttribute(lambda version: version.guide.versions.count() + 1)
    steps = factory.LazyAttribute(
        lambda version: [
            {"step": step.pk, "position": step.position, "kind": step.kind,
             "title": step.title, "body": step.body}
            for step in version.guide.steps.order_by("position")
        ]
    )  # fmt: skip


class StepOutcomeFactory(factory.django.DjangoModelFactory):
    """An outcome recorded directly (tests that need its time or a given history)."""

    class Meta:
        model = StepOutcome

    attempt = factory.SubFactory("tests.factories.AttemptFactory")
    step = factory.SubFactory(StepFactory)
    step_position = factory.LazyAttribute(lambda outcome: outcome.step.position)
    step_kind = factory.LazyAttribute(lambda outcome: outcome.step.kind)
    step_title = factory.LazyAttribute(lambda outcome: outcome.step.title)
    outcome = StepOutcome.Outcome.DID_NOT_WORK


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@helpdesk.example")
    password = factory.django.Password("correct horse battery staple")


# --- the agent workspace ---------------------------------------------------------------------


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Queue {n}")
    slug = factory.Sequence(lambda n: f"queue-{n}")


def staff_user(username: str, role: str | None = None, **fields):
    """A staff user in one of the role groups of tickets.roles (or none)."""
    user = UserFactory(username=username, is_staff=True, **fields)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


def agent_in(*queues: Queue, username: str, languages=(), capacity: int = 10, role=roles.AGENT):
    """An agent (a staff user in the Agent group with a profile) who is a member of queues."""
    profile = AgentProfile.objects.create(
        user=staff_user(username, role, first_name=username.title()),
        languages=list(languages),
        capacity=capacity,
    )
    for queue in queues:
        queue.members.add(profile)
    return profile


class AttemptFactory(factory.django.DjangoModelFactory):
    """An escalated attempt, as the contact form leaves it (for tickets made directly)."""

    class Meta:
        model = Attempt

    guide = factory.SubFactory(GuideFactory)
    company = factory.LazyAttribute(lambda attempt: attempt.guide.company)
    token_hash = factory.Sequence(lambda n: attempt_token_hash(f"attempt-{n}"))
    language = factory.LazyAttribute(lambda attempt: attempt.guide.language)
    status = Attempt.Status.ESCALATED
    description = "Still stuck, please help."
    contact_email = "sam@example.com"
    finished_at = factory.LazyFunction(timezone.now)
    escalation_requested_at = factory.LazyFunction(timezone.now)


class TicketFactory(factory.django.DjangoModelFactory):
    """A ticket made directly (no routing, no worker), with a two-step tried-steps snapshot.
    For the real path, see tests/tickets/test_escalation_*.py."""

    class Meta:
        model = Ticket

    attempt = factory.SubFactory(AttemptFactory)
    company = factory.LazyAttribute(lambda ticket: ticket.attempt.company)
    guide = factory.LazyAttribute(lambda ticket: ticket.attempt.guide)
    language = factory.LazyAttribute(lambda ticket: ticket.attempt.language)
    subject = factory.Sequence(lambda n: f"Card declined, request {n}")
    description = "Still stuck, please help."
    requester_name = "Sam"
    requester_email = "sam@example.com"
    queue = factory.SubFactory(QueueFactory)
    routing_reason = "Made by a test factory."
    tried_steps = factory.LazyFunction(
        lambda: [
            {"position": 1, "title": "Update the card", "kind": "procedure",
             "outcome": "did_not_work", "note": "The page froze.",
             "recorded_at": "2026-11-01T10:00:00+00:00"},
            {"position": 2, "title": "Try another card", "kind": "alternative",
             "outcome": "skipped", "note": "", "recorded_at": "2026-11-01T10:02:00+00:00"},
        ]
    )  # fmt: skip


def token_for(user, *, revoked: bool = False, name: str = "CRM sync") -> str:
    """An API token of the user's; returns its key (shown once, as in the admin)."""
    key = ApiToken.key_new()
    ApiToken.objects.create(
        user=user, name=name, prefix=key[:8], key_hash=api_token_key_hash(key),
        revoked_at=timezone.now() if revoked else None,
    )  # fmt: skip
    return key
