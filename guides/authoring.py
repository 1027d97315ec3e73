"""What the guide editor (guides.admin_editor) does to guides beyond saving its form: a unique
slug from a title, and the steps' positions made 1..n after an edit.

Apart from guides.services only because that module is long; the admin calls these as it calls
the services, and nothing else reimplements them.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from guides.models import MAX_STEP_POSITION, Guide, Step
from guides.page_cache import guide_pages_changed
from guides.slugs import SLUG_MAX_LENGTH, random_slug, slug_from_title

# Tries of "-2", "-3"… before a clash gives up on the title and takes a random slug.
MAX_SUFFIX = 50


def guide_slug_suggest(
    *, title: str, company_id: int | None, language: str, exclude_pk: int | None = None
) -> str:
    """A slug for a guide with this title that no other guide of the company in this
    language has (the scope of guide_unique_slug_per_language): the title's slug, else that
    slug with "-2", "-3"…, else a random one. Without a company yet, the title's slug as is:
    the form's constraint check still catches a clash once the company is chosen.

    A suggestion, not a reservation: two authors saving the same title at once both get it,
    and the second save is refused by the unique constraint as a form error."""
    base = slug_from_title(title) or random_slug()
    if company_id is None:
        return base
    others = Guide.objects.filter(company_id=company_id, language=language, slug__startswith=base)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    taken = set(others.values_list("slug", flat=True))
    if base not in taken:
        return base
    for number in range(2, MAX_SUFFIX + 2):
        suffix = f"-{number}"
        candidate = base[: SLUG_MAX_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    return random_slug()


def guide_steps_renumber(*, guide: Guide) -> bool:
    """Number the guide's steps 1..n in the order of their positions (ties by id), so that the
    positions an author typed as 10, 20, 15 (or left with gaps by a deleted step) read as the
    customers' step numbers. True when any position changed.

    Under the guide's row lock, as the admin's save and an accepted proposal
    (guides.services.step_proposal_accept) may both number steps at once. Two updates: the
    moved steps are first parked above every allowed position, as unique(guide, position) is
    checked row by row."""
    with transaction.atomic():
        list(Guide.objects.select_for_update().filter(pk=guide.pk).values_list("pk", flat=True))
        steps = list(
            Step.objects.filter(guide_id=guide.pk)
            .order_by("position", "pk")
            .values_list("pk", "position")
        )
        moves = {
            pk: number for number, (pk, position) in enumerate(steps, start=1) if position != number
        }
        if not moves:
            return False
        Step.objects.filter(pk__in=moves).update(position=F("position") + MAX_STEP_POSITION)
        for pk, number in moves.items():
            Step.objects.filter(pk=pk).update(position=number)
    # A QuerySet.update() sends no signal: the guide pages are told here (guides.page_cache).
    guide_pages_changed()
    return True
