"""The small tables a generated history needs, through the ORM: companies and guides (our own
when none are published), queues with SLA policies, a supervisor and the agents, and what the
row generator needs to know about them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, Q

from guides.models import Company, Guide, Step
from guides.page_cache import guide_pages_changed
from tickets import roles
from tickets.generation.data import (
    AGENT_CAPACITY,
    AGENT_COUNT,
    FALLBACK_GUIDES,
    QUEUES,
    SLA_MINUTES,
    TEXTS,
    USERNAME_PREFIX,
)
from tickets.models import OPEN_TICKET_STATUSES, AgentProfile, Queue, SLAPolicy


class GenerationError(Exception):
    """The database cannot take a generated history (the command shows the message)."""


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


def setup_build(rng: random.Random) -> Setup:
    """The queues, SLA policies and agents (created once, found again on later runs)."""
    guides = _guides()
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


def _guides() -> dict[str, list[GuideInfo]]:
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
            guide_pages_changed()  # bulk_create sends no post_save
    guides: dict[str, list[GuideInfo]] = {"ar": [], "en": []}
    published = Guide.objects.filter(status=Guide.Status.PUBLISHED).prefetch_related("steps")
    for guide in published:
        guide_steps = [(s.position, s.kind, s.title) for s in guide.steps.all()]
        if guide_steps and guide.language in guides:
            guides[guide.language].append(
                GuideInfo(guide.pk, guide.company_id, guide.title[:300], guide_steps)
            )
    if not guides["ar"] or not guides["en"]:
        raise GenerationError("need published guides with steps in Arabic and English")
    return guides


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
