"""State changes of the guides app. Views, the admin, the API and commands call these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from guides.guide_format import (
    SUPPORT_TO_MODEL,
    FieldError,
    GuideDocument,
    GuideFileError,
    StepData,
)
from guides.models import MAX_STEP_POSITION, Company, Guide, Step, Tag


@dataclass(frozen=True)
class GuideImportResult:
    guide: Guide
    outcome: str  # "created", "updated" or "unchanged"
    steps_created: int = 0
    steps_updated: int = 0
    steps_deleted: int = 0


def _company_upsert(data: Any) -> tuple[Company, bool]:
    fields = {"name": data.name, **data.details}
    company = Company.objects.select_for_update().filter(slug=data.slug).first()
    if company is None:
        return Company.objects.create(slug=data.slug, **fields), True
    changed = [name for name, value in fields.items() if getattr(company, name) != value]
    for name in changed:
        setattr(company, name, fields[name])
    if changed:
        company.save(update_fields=[*changed, "updated_at"])
    return company, bool(changed)


def _match_steps(existing: list[Step], incoming: tuple[StepData, ...]) -> list[Step | None]:
    """Pair each incoming step with an existing row to keep its id.

    A step keeps its row when its title is unchanged (even if it moved or its body was edited);
    otherwise it takes over the row that held its position. Outcomes recorded against a step id
    therefore stay attached to the same instruction across re-imports.
    """
    unmatched = {step.pk: step for step in existing}
    matches: list[Step | None] = [None] * len(incoming)
    for index, data in enumerate(incoming):
        for step in unmatched.values():
            if step.title == data.title:
                matches[index] = unmatched.pop(step.pk)
                break
    by_position = {step.position: step for step in unmatched.values()}
    for index, data in enumerate(incoming):
        if matches[index] is None and data.position in by_position:
            step = by_position.pop(data.position)
            matches[index] = unmatched.pop(step.pk)
    return matches


def _steps_sync(guide: Guide, incoming: tuple[StepData, ...]) -> tuple[int, int, int]:
    existing = list(guide.steps.select_for_update().order_by("position"))
    matches = _match_steps(existing, incoming)
    kept_ids = {step.pk for step in matches if step is not None}
    stale = [step.pk for step in existing if step.pk not in kept_ids]
    if stale:
        Step.objects.filter(pk__in=stale).delete()

    # unique(guide, position) is checked row by row, so steps that swap places first move to
    # positions above anything a file may use, then to their final place.
    moving = [
        (step, data)
        for step, data in zip(matches, incoming, strict=True)
        if step is not None and step.position != data.position
    ]
    for offset, (step, _data) in enumerate(moving, start=1):
        step.position = MAX_STEP_POSITION + offset
        step.save(update_fields=["position"])

    updated = 0
    new_steps: list[Step] = []
    for match, data in zip(matches, incoming, strict=True):
        if match is None:
            new_steps.append(
                Step(
                    guide=guide,
                    position=data.position,
                    kind=data.kind,
                    title=data.title,
                    body=data.body,
                )
            )
            continue
        changed = [
            name
            for name in ("position", "kind", "title", "body")
            if getattr(match, name) != getattr(data, name)
        ]
        if changed:
            for name in changed:
                setattr(match, name, getattr(data, name))
            match.save(update_fields=changed)
            updated += 1
    Step.objects.bulk_create(new_steps)
    return len(new_steps), updated, len(stale)


@transaction.atomic
def guide_import(*, document: GuideDocument) -> GuideImportResult:
    """Create or update one guide from a parsed file, in one transaction.

    Idempotent: importing the same document twice changes nothing the second time, and step
    rows keep their ids (see _match_steps).
    """
    company, company_changed = _company_upsert(document.company)

    clash = (
        Guide.objects.filter(
            company=company,
            translation_key=document.translation_key,
            language=document.language,
        )
        .exclude(slug=document.slug)
        .first()
    )
    if clash is not None:
        raise GuideFileError(
            [
                FieldError(
                    "translation_key",
                    f"{document.translation_key!r} already has a {document.language!r} version:"
                    f" guide {clash.slug!r}",
                )
            ]
        )

    fields = {
        "translation_key": document.translation_key,
        "status": document.status,
        "title": document.title,
        "summary": document.summary,
    }
    guide = (
        Guide.objects.select_for_update()
        .filter(company=company, slug=document.slug, language=document.language)
        .first()
    )
    created = guide is None
    guide_changed = False
    if guide is None:
        guide = Guide.objects.create(
            company=company, slug=document.slug, language=document.language, **fields
        )
    else:
        changed = [name for name, value in fields.items() if getattr(guide, name) != value]
        for name in changed:
            setattr(guide, name, fields[name])
        if changed:
            guide.save(update_fields=[*changed, "updated_at"])
            guide_changed = True

    current_tags = set(guide.tags.values_list("slug", flat=True))
    if current_tags != set(document.tags):
        tags = []
        for slug in document.tags:
            tag, _ = Tag.objects.get_or_create(slug=slug)
            tags.append(tag)
        guide.tags.set(tags)
        guide_changed = True

    steps_created, steps_updated, steps_deleted = _steps_sync(guide, document.steps)
    if created:
        outcome = "created"
    elif guide_changed or company_changed or steps_created or steps_updated or steps_deleted:
        outcome = "updated"
    else:
        outcome = "unchanged"
    return GuideImportResult(
        guide=guide,
        outcome=outcome,
        steps_created=steps_created,
        steps_updated=steps_updated,
        steps_deleted=steps_deleted,
    )


def guide_export_data(*, guide: Guide) -> dict[str, Any]:
    """The file form of a guide: what guide_import reads back to the same rows."""
    company = guide.company
    support = {key: getattr(company, name) for key, name in SUPPORT_TO_MODEL.items()}
    return {
        "company": {
            "slug": company.slug,
            "name": company.name,
            "website": company.website,
            "support": support,
        },
        "slug": guide.slug,
        "language": guide.language,
        "translation_key": guide.translation_key,
        "status": guide.status,
        "title": guide.title,
        "summary": guide.summary,
        "tags": sorted(tag.slug for tag in guide.tags.all()),
        "steps": [
            {"position": step.position, "kind": step.kind, "title": step.title, "body": step.body}
            for step in guide.steps.all()
        ],
    }
