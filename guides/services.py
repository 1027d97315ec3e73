"""State changes of the guides app. Views, the admin, the API and commands call these."""

from __future__ import annotations

import operator
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, reduce
from typing import Any, cast

from django.core.cache import cache as shared_cache
from django.db import connection, transaction
from django.db.models import F, Field, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guides import ordering, selectors
from guides.guide_format import (
    SUPPORT_TO_MODEL,
    FieldError,
    GuideDocument,
    GuideFileError,
    StepData,
)
from guides.models import (
    MAX_STEP_POSITION,
    AlternativesOrderChange,
    Attempt,
    Company,
    Feedback,
    Guide,
    GuideVersion,
    Language,
    Step,
    StepOutcome,
    StepProposal,
    StepProposalSource,
    Tag,
    attempt_token_hash,
    attempt_token_new,
    feedback_voter_hash,
)
from guides.page_cache import guide_pages_changed
from guides.search import guide_search_index_update, guide_search_index_update_for, normalise
from guides.selectors import step_proposal_guide, user_decides_for_guide
from helpdesk.errors import ServiceError
from helpdesk.sql import quoted
from helpdesk.text import one_line, plain_text


@dataclass(frozen=True)
class GuideImportResult:
    guide: Guide
    outcome: str  # "created", "updated" or "unchanged"
    steps_created: int = 0
    steps_updated: int = 0
    steps_deleted: int = 0


def _company_upsert(data: Any) -> tuple[Company, list[str]]:
    """The company of an imported guide, created or brought up to date; returns it with the
    names of the fields that changed (all of them for a new company)."""
    fields = {"name": data.name, **data.details}
    company = Company.objects.select_for_update().filter(slug=data.slug).first()
    if company is None:
        return Company.objects.create(slug=data.slug, **fields), list(fields)
    changed = [name for name, value in fields.items() if getattr(company, name) != value]
    for name in changed:
        setattr(company, name, fields[name])
    if changed:
        company.save(update_fields=[*changed, "updated_at"])
    return company, changed


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
    if new_steps:
        guide_pages_changed()  # bulk_create sends no post_save
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
    guide_version_record(guide=guide)
    guide_search_index_update(guide_id=guide.pk)
    if "name" in company_changed and not created:
        # The company's name is in the search row of each of its guides, not only this one.
        guide_search_index_update_for(company_id=company.pk)
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


# --- Versions ---------------------------------------------------------------------------------


def _steps_snapshot(guide_id: int) -> list[dict[str, Any]]:
    """The guide's steps as a version keeps them, in the authors' order."""
    rows = (
        Step.objects.filter(guide_id=guide_id)
        .order_by("position")
        .values_list("pk", "position", "kind", "title", "body")
    )
    return [
        {"step": pk, "position": position, "kind": kind, "title": title, "body": body}
        for pk, position, kind, title, body in rows
    ]


def _version_latest(guide_id: int) -> GuideVersion | None:
    return GuideVersion.objects.filter(guide_id=guide_id).order_by("-number").first()


def guide_version_record(*, guide: Guide) -> GuideVersion:
    """The guide's current version: the latest, or a new one (the next number, with a
    snapshot of the steps) when the steps differ from the latest's snapshot or there is none.

    Only the steps make a version: their position, kind, title and body. An edit of the
    guide's title or summary does not (its statistics are the steps'). Called wherever steps
    change (the admin, the import) and by every attempt that starts, which also covers steps
    changed some other way (a shell, a bulk write) before the next customer sees them.
    """
    latest = _version_latest(guide.pk)
    if latest is not None and latest.steps == _steps_snapshot(guide.pk):
        return latest  # the common case: no lock, two reads
    with transaction.atomic():
        # Two customers starting on a guide just edited (or one and the author's save) may
        # both find the steps changed: under the guide's lock the first writes the version,
        # the second reads it. Both reads again under the lock, as the two above may straddle
        # the commit of an edit.
        list(Guide.objects.select_for_update().filter(pk=guide.pk).values_list("pk", flat=True))
        latest = _version_latest(guide.pk)
        steps = _steps_snapshot(guide.pk)
        if latest is not None and latest.steps == steps:
            return latest
        version = GuideVersion.objects.create(
            guide_id=guide.pk, number=(latest.number if latest else 0) + 1, steps=steps
        )
        # Alternatives added or removed change their order: recorded with the version.
        _orders_refresh([guide])
    return version


def _version_steps(version: GuideVersion) -> tuple[list[int], list[int], list[int]]:
    """A version's step ids by kind (procedure, alternatives, last resort), each by position."""
    by_kind: dict[str, list[int]] = {kind: [] for kind in Step.Kind.values}
    for step in sorted(version.steps, key=lambda step: step["position"]):
        by_kind.setdefault(step["kind"], []).append(step["step"])
    return (
        by_kind[Step.Kind.PROCEDURE],
        by_kind[Step.Kind.ALTERNATIVE],
        by_kind[Step.Kind.LAST_RESORT],
    )


# --- The alternatives' order (guides.ordering) -------------------------------------------------

# How long the tallies behind a guide's order stay cached: a new attempt reads them from the
# cache, not the tallies table. The rollup refreshes them as it moves tallies
# (alternatives_order_changed), so this bounds only what a lost refresh (a cache outage)
# leaves stale.
ORDER_CACHE_SECONDS = 300
_random = random.Random()  # noqa: S311 - exploration draws, not secrets


def _order_cache_key(guide: Guide) -> str:
    # With the guide's creation time: on SQLite the id of a deleted guide can be given again,
    # and a new guide must not start from another one's numbers.
    created = int(guide.created_at.timestamp() * 1_000_000)
    return f"guides:alternatives-order:{guide.pk}:{guide.language}:{created}"


def _order_cached(tallies: list[ordering.AlternativeTally]) -> list[list[int]]:
    return [[tally.step, tally.tried, tally.worked] for tally in tallies]


def _orders_refresh(guides: list[Guide]) -> dict[int, list[ordering.AlternativeTally]]:
    """Compute the order of each guide's alternatives from its tallies, record those that
    differ from the last recorded, and cache the tallies; returns them by guide id, in the
    authors' order. Two queries, and three more (and a savepoint) when an order changed,
    whatever the number of guides."""
    if not guides:
        return {}
    alternatives = selectors.guides_alternatives(guide.pk for guide in guides)
    tallies = {pk: selectors.alternative_tallies(steps) for pk, steps in alternatives.items()}
    orders = {
        guide.pk: ordering.shown_order(tallies[guide.pk], pinned=guide.alternatives_pinned)
        for guide in guides
    }

    def changed(guide: Guide, last: dict[int, AlternativesOrderChange]) -> bool:
        recorded = last.get(guide.pk)
        if recorded is None:  # fewer than two alternatives: no order to speak of yet
            return len(orders[guide.pk]) >= 2
        return recorded.order != orders[guide.pk] or recorded.pinned != guide.alternatives_pinned

    last = selectors.alternatives_orders_last(list(orders))
    moved = [guide for guide in guides if changed(guide, last)]
    if moved:
        with transaction.atomic():
            # Two processes computing the same new order (a refreshing rollup and an attempt
            # finding the cache empty) would both record it: under the guides' locks, in a
            # fixed order, the second finds the first's row.
            ids = sorted(guide.pk for guide in moved)
            list(Guide.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
            last = selectors.alternatives_orders_last(ids)
            now = timezone.now()
            AlternativesOrderChange.objects.bulk_create(
                _order_change(guide, tallies[guide.pk], orders[guide.pk], alternatives, now)
                for guide in moved
                if changed(guide, last)
            )
    shared_cache.set_many(
        {_order_cache_key(guide): _order_cached(tallies[guide.pk]) for guide in guides},
        timeout=ORDER_CACHE_SECONDS,
    )
    return tallies


def _order_change(
    guide: Guide,
    tallies: list[ordering.AlternativeTally],
    order: list[int],
    alternatives: dict[int, list[Step]],
    now: Any,
) -> AlternativesOrderChange:
    titles = {step.pk: step.title for step in alternatives[guide.pk]}
    by_step = {n.step: n for n in ordering.numbers(tallies)}
    return AlternativesOrderChange(
        guide=guide,
        language=guide.language,
        recorded_at=now,
        pinned=guide.alternatives_pinned,
        order=order,
        numbers=[
            {
                "step": step,
                "title": titles[step],
                "tried": by_step[step].tried,
                "worked": by_step[step].worked,
                "lower_bound": round(by_step[step].lower_bound, 4),
                "ranked": by_step[step].ranked,
            }
            for step in order
        ],
    )


def alternatives_tallies(*, guide: Guide) -> dict[int, ordering.AlternativeTally]:
    """The tallies behind the order of the guide's alternatives, by step id: cached for
    ORDER_CACHE_SECONDS; on a miss computed, recording the order if it changed."""
    cached = shared_cache.get(_order_cache_key(guide))
    if cached is None:
        tallies = _orders_refresh([guide])[guide.pk]
    else:
        tallies = [ordering.AlternativeTally(step, tried, worked) for step, tried, worked in cached]
    return {tally.step: tally for tally in tallies}


def alternatives_order_changed(guide_ids: Iterable[int]) -> None:
    """What these guides' orders come from has changed (the rollup moved their tallies, the
    steps or the pin changed): compute their orders now, record those that differ from the
    last recorded, and cache the tallies for the attempts to come.

    The rollup calls it once its tallies are committed (transaction.on_commit), so that the
    cache never holds numbers a rollback takes back."""
    guides = list(Guide.objects.filter(pk__in=list(guide_ids)))
    _orders_refresh(guides)


def _step_order_choose(
    *,
    guide: Guide,
    version: GuideVersion,
    seen_order: Sequence[int] | None,
    rng: random.Random,
) -> list[int]:
    procedure, alternatives, last_resort = _version_steps(version)
    steps = {"procedure": procedure, "alternatives": alternatives, "last_resort": last_resort}
    if seen_order is not None and ordering.is_step_order(seen_order, **steps):
        return list(seen_order)
    if len(alternatives) < 2:
        chosen = alternatives
    else:
        known = alternatives_tallies(guide=guide)
        tallies = [known.get(step, ordering.AlternativeTally(step, 0, 0)) for step in alternatives]
        if seen_order is not None:  # shown an order we cannot read back: the likeliest one
            chosen = ordering.shown_order(tallies, pinned=guide.alternatives_pinned)
        else:
            choice = ordering.alternatives_order(tallies, pinned=guide.alternatives_pinned, rng=rng)
            chosen = choice.alternatives
    return ordering.step_order(procedure, chosen, last_resort)


# --- Self-help: attempts, step outcomes, feedback ---------------------------------------------


class SelfHelpError(ServiceError):
    """A customer's action that cannot be done; ``field`` names the input it concerns."""


class AttemptClosedError(SelfHelpError):
    """The attempt was escalated or abandoned: nothing more can be recorded on it."""

    code = "attempt_closed"
    status = 409


OPEN_ATTEMPT_STATUSES = (Attempt.Status.IN_PROGRESS, Attempt.Status.RESOLVED)
_ATTEMPT_CLOSED: dict[str, Any] = {
    Attempt.Status.IN_PROGRESS: _("This attempt is still in progress."),
    Attempt.Status.RESOLVED: _("This attempt is already resolved."),
    Attempt.Status.ESCALATED: _("A person has already been asked to help with this attempt."),
    Attempt.Status.ABANDONED: _("This attempt was abandoned; start over to try again."),
}


def _attempt_lock(attempt: Attempt) -> Attempt:
    # Re-read under a row lock: two tabs or a retrying client may act on one attempt at once,
    # and each decision below depends on the status the other may be changing.
    return Attempt.objects.select_for_update().get(pk=attempt.pk)


def _attempt_create(
    *,
    guide: Guide | None,
    company: Company | None = None,
    language: str,
    user_agent: str,
    guide_version: GuideVersion | None = None,
    step_order: list[int] | None = None,
) -> tuple[Attempt, str]:
    token = attempt_token_new()
    attempt = Attempt.objects.create(
        guide=guide,
        company=company,
        guide_version=guide_version,
        step_order=step_order or [],
        token_hash=attempt_token_hash(token),
        language=language,
        user_agent=user_agent[:300],
    )
    return attempt, token


def attempt_start(
    *,
    guide: Guide,
    user_agent: str = "",
    seen_order: Sequence[int] | None = None,
    rng: random.Random | None = None,
) -> tuple[Attempt, str]:
    """Open an attempt at a published guide; returns it with its secret token (shown once).

    The attempt records the guide's current version and the order of the steps it is shown:
    the procedure, the alternatives in the order of what works (or, for a share of attempts,
    an order drawn to explore: guides.ordering), the last resort. ``seen_order``: the order
    the customer had already been shown when the attempt began and acted on (the web page,
    when the first step they mark is past the procedure); it is recorded as it is when it
    fits the current steps, and never explored away from, since they chose under it.
    ``rng``: the random source of the exploration (tests).
    """
    if guide.status != Guide.Status.PUBLISHED:
        raise SelfHelpError(_("This guide is not published."), field="guide")
    version = guide_version_record(guide=guide)
    step_order = _step_order_choose(
        guide=guide, version=version, seen_order=seen_order, rng=rng or _random
    )
    return _attempt_create(
        guide=guide,
        language=guide.language,
        user_agent=user_agent,
        guide_version=version,
        step_order=step_order,
    )


@transaction.atomic
def attempt_start_without_guide(
    *,
    language: str,
    company: Company | None = None,
    opened_guide_ids: list[int] | tuple[int, ...] = (),
    user_agent: str = "",
) -> tuple[Attempt, str]:
    """Open an attempt for a customer who found no guide (the contact form); it records the
    suggested guides they opened, so the agent knows what they already read."""
    if language not in Language.values:
        raise SelfHelpError(_("Unknown language."), field="language")
    attempt, token = _attempt_create(
        guide=None, company=company, language=language, user_agent=user_agent
    )
    opened = Guide.objects.filter(pk__in=opened_guide_ids, status=Guide.Status.PUBLISHED)
    attempt.opened_guides.set(opened)
    return attempt, token


@transaction.atomic
def step_outcome_record(
    *, attempt: Attempt, step_id: int, outcome: str, note: str = ""
) -> StepOutcome:
    """Record what happened at one step. "worked" resolves the attempt; any other outcome on a
    resolved attempt re-opens it (the problem came back)."""
    if outcome not in StepOutcome.Outcome.values:
        raise SelfHelpError(
            _("Unknown outcome %(outcome)r; use one of %(known)s.")
            % {"outcome": outcome, "known": ", ".join(StepOutcome.Outcome.values)},
            field="outcome",
        )
    attempt = _attempt_lock(attempt)
    if attempt.status not in OPEN_ATTEMPT_STATUSES:
        raise AttemptClosedError(_ATTEMPT_CLOSED[attempt.status])
    step = None
    if attempt.guide_id is not None:
        step = Step.objects.filter(pk=step_id, guide_id=attempt.guide_id).first()
    if step is None:
        raise SelfHelpError(_("This step is not part of the attempt's guide."), field="step")
    now = timezone.now()
    recorded = StepOutcome.objects.create(
        attempt=attempt,
        step=step,
        step_position=step.position,
        step_kind=step.kind,
        step_title=step.title,
        outcome=outcome,
        note=plain_text(note).strip(),
        recorded_at=now,
    )
    if outcome == StepOutcome.Outcome.WORKED:
        attempt.status, attempt.finished_at = Attempt.Status.RESOLVED, now
    else:
        attempt.status, attempt.finished_at = Attempt.Status.IN_PROGRESS, None
    attempt.updated_at = now
    attempt.save(update_fields=["status", "finished_at", "updated_at"])
    return recorded


@transaction.atomic
def attempt_abandon(*, attempt: Attempt) -> Attempt:
    attempt = _attempt_lock(attempt)
    if attempt.status != Attempt.Status.IN_PROGRESS:
        raise AttemptClosedError(_ATTEMPT_CLOSED[attempt.status])
    now = timezone.now()
    attempt.status, attempt.finished_at, attempt.updated_at = Attempt.Status.ABANDONED, now, now
    attempt.save(update_fields=["status", "finished_at", "updated_at"])
    return attempt


def attempt_contact_submit(
    *,
    attempt: Attempt,
    description: str,
    name: str = "",
    email: str = "",
    reference_new: Callable[[], str] | None = None,
) -> Attempt:
    """ "Still stuck? Talk to a person": keep the customer's words and contact on the attempt.

    The attempt leaves self-help (status escalated) with the time of the request, which the
    escalation work turns into exactly one ticket. ``reference_new``: see attempt_contact_record.
    """
    changes = attempt_contact_record(
        attempt_id=attempt.pk, description=description, name=name, email=email,
        reference_new=reference_new,
    )  # fmt: skip
    for field, value in changes.items():
        setattr(attempt, field, value)
    return attempt


# Fresh references drawn when the one drawn is taken already. At 50 random bits a second draw
# is needed about once in a quadrillion requests; a fifth, never.
REFERENCE_DRAWS = 5


def attempt_contact_record(
    *,
    attempt_id: int,
    description: str,
    name: str = "",
    email: str = "",
    reference_new: Callable[[], str] | None = None,
) -> dict[str, Any]:
    """attempt_contact_submit by the attempt's id alone; returns the fields it wrote.

    ``reference_new`` draws the reference of the ticket-to-be (the tickets app passes its
    generator: guides knows nothing of the alphabet), reserved on the attempt in the same
    UPDATE as the escalation. Without it the reference is left to the worker."""
    # Cleaned before the check: a description of bidi controls alone is empty (helpdesk.text).
    description = plain_text(description).strip()
    if not description:
        raise SelfHelpError(_("Tell us what is still going wrong."), field="description")
    now = timezone.now()
    changes: dict[str, Any] = {
        "description": description,
        "contact_name": one_line(name)[:200],
        "contact_email": email.strip(),
        "status": Attempt.Status.ESCALATED,
        "escalation_requested_at": now,
        "awaiting_ticket": True,
        "finished_at": now,
        "updated_at": now,
    }
    # Two tabs or a retrying client may ask at once: a conditional update decides in one
    # statement (the row lock it takes makes the second one see the first's status, so only
    # one request escalates), instead of a locked read and a write.
    if reference_new is None:
        if not _attempt_escalate(attempt_id, changes):
            raise AttemptClosedError(_ATTEMPT_CLOSED[Attempt.Status.ESCALATED])
        return changes
    for _draw in range(REFERENCE_DRAWS):
        changes["ticket_reference"] = reference_new()
        if _attempt_escalate(attempt_id, changes):
            return changes
        # Not escalated: by an earlier request (the usual reason), or the reference drawn is
        # another attempt's; only the second is worth another draw.
        status = Attempt.objects.filter(pk=attempt_id).values_list("status", flat=True).first()
        if status in (None, Attempt.Status.ESCALATED):
            raise AttemptClosedError(_ATTEMPT_CLOSED[Attempt.Status.ESCALATED])
    raise RuntimeError(f"No free ticket reference in {REFERENCE_DRAWS} draws")


def _attempt_escalate(attempt_id: int, changes: dict[str, Any]) -> bool:
    """UPDATE the attempt with ``changes`` unless it is escalated already (or the ticket
    reference it reserves is taken); True if it was.

    Plain SQL, written once per process from the model's columns: this is the escalate
    request's write, and the ORM's compiling of it cost three times its running
    (docs/performance.md, "The escalate request")."""
    fields = [_attempt_field(name) for name in changes]
    values = [
        field.get_db_prep_save(value, connection=connection)
        for field, value in zip(fields, changes.values(), strict=True)
    ]
    guard = [changes["ticket_reference"]] if "ticket_reference" in changes else []
    with connection.cursor() as cursor:
        cursor.execute(
            _attempt_escalate_sql(tuple(changes)),
            [*values, attempt_id, Attempt.Status.ESCALATED.value, *guard],
        )
        return cursor.rowcount == 1


@cache
def _attempt_escalate_sql(names: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{quoted(Attempt, name)} = %s" for name in names)
    sql = (
        f"UPDATE {quoted(Attempt)} SET {assignments}"  # noqa: S608 (the model's own columns, quoted)
        f" WHERE {quoted(Attempt, 'pk')} = %s AND {quoted(Attempt, 'status')} <> %s"
    )
    if "ticket_reference" in names:
        # A reference taken already leaves the row alone (and the caller draws another),
        # rather than failing on the unique index: inside the web forms' transaction that
        # error would abort it on PostgreSQL. Read through that same unique index. Two
        # requests drawing the same free reference at the same instant are left to the
        # index itself.
        reference = quoted(Attempt, "ticket_reference")
        taken = f"SELECT 1 FROM {quoted(Attempt)} taken WHERE taken.{reference} = %s"  # noqa: S608
        sql += f" AND NOT EXISTS ({taken})"
    return sql


def _attempt_field(name: str) -> Field:
    return cast(Field, Attempt._meta.get_field(name))


@transaction.atomic
def feedback_give(
    *,
    guide: Guide | None,
    helpful: bool,
    comment: str = "",
    attempt: Attempt | None = None,
    visitor_id: str | None = None,
) -> Feedback:
    """'Was this helpful?': one answer per attempt and one per visitor (guides.visitors), each
    a unique constraint. Answering again replaces the answer; when the attempt and the visitor
    each had one (the same person, e.g. on the web and through the API), they become one. The
    guide's tallies move with every change, by F expressions under the guide's lock."""
    if guide is None:
        # A contact-form request has no guide: there is nothing to rate.
        raise SelfHelpError(_("This request has no guide to rate."))
    if attempt is not None and attempt.guide_id != guide.pk:
        raise SelfHelpError(_("This attempt belongs to another guide."), field="attempt")
    if attempt is None and not visitor_id:
        raise ValueError("An answer needs an attempt or a visitor: each has one vote.")
    voter = feedback_voter_hash(guide_id=guide.pk, visitor_id=visitor_id) if visitor_id else ""
    # Lock the guide: every answer moves its tallies, so answers to one guide queue on its row
    # anyway. Taken first, it makes "is there an answer already?" and the insert one step: two
    # first answers of one visitor or attempt sent at once cannot both insert.
    list(Guide.objects.select_for_update().filter(pk=guide.pk).values_list("pk", flat=True))
    mine = [Q(guide=guide, voter=voter)] if voter else []
    if attempt is not None:
        mine.append(Q(attempt=attempt))
    previous = list(Feedback.objects.filter(reduce(operator.or_, mine)).order_by("pk"))  # <= 2
    now = timezone.now()
    comment = plain_text(comment).strip()
    if not previous:
        feedback = Feedback.objects.create(
            guide=guide, attempt=attempt, voter=voter, helpful=helpful, comment=comment,
            created_at=now, updated_at=now,
        )  # fmt: skip
        _feedback_tallies_move(guide_id=guide.pk, added=[helpful], removed=[])
        return feedback
    kept = next((answer for answer in previous if voter and answer.voter == voter), previous[0])
    merged = [answer for answer in previous if answer.pk != kept.pk]
    if merged:
        # Before the save below, which may give the kept answer this attempt.
        Feedback.objects.filter(pk__in=[answer.pk for answer in merged]).delete()
    removed = [kept.helpful, *(answer.helpful for answer in merged)]
    kept.helpful, kept.comment, kept.updated_at = helpful, comment, now
    changed = ["helpful", "comment", "updated_at"]
    if attempt is not None and kept.attempt_id != attempt.pk:
        kept.attempt = attempt
        changed.append("attempt")
    if voter and kept.voter != voter:
        kept.voter = voter
        changed.append("voter")
    kept.save(update_fields=changed)
    _feedback_tallies_move(guide_id=guide.pk, added=[helpful], removed=removed)
    return kept


def _feedback_tallies_move(*, guide_id: int, added: list[bool], removed: list[bool]) -> None:
    helpful = added.count(True) - removed.count(True)
    needs_work = added.count(False) - removed.count(False)
    changes: dict[str, Any] = {}
    if helpful:
        changes["helpful_count"] = F("helpful_count") + helpful
    if needs_work:
        changes["needs_work_count"] = F("needs_work_count") + needs_work
    if changes:
        Guide.objects.filter(pk=guide_id).update(**changes)


# --- Step proposals: agents' fixes back into guides -------------------------------------------

# A proposed step's body may be as long as the agent's reply it came from.
STEP_PROPOSAL_BODY_MAX_LENGTH = 20_000


class StepProposalError(ServiceError):
    """A proposed step refused; ``field`` names the input (title, body, same_as)."""

    code = "step_proposal_invalid"


class StepProposalNotPermitted(StepProposalError):
    code = "not_permitted"
    status = 403
    field = None


class StepProposalStateRefusal(StepProposalError):
    """Refused because of the proposal's or the ticket's state, not the input."""

    status = 409
    field = None


class StepProposalDecided(StepProposalStateRefusal):
    code = "proposal_decided"


class FixAlreadyProposed(StepProposalStateRefusal):
    code = "fix_already_proposed"


def _step_text(title: str, body: str) -> tuple[str, str]:
    """A step's title and body as typed, cleaned, or the refusal naming the wrong one."""
    title = one_line(title)
    body = body.strip()
    if not title:
        raise StepProposalError(_("Give the step a title."), field="title")
    if len(title) > 300:
        raise StepProposalError(
            _("A title has at most %(count)d characters.") % {"count": 300}, field="title"
        )
    if len(body) > STEP_PROPOSAL_BODY_MAX_LENGTH:
        raise StepProposalError(
            _("A step's text has at most %(count)d characters.")
            % {"count": STEP_PROPOSAL_BODY_MAX_LENGTH},
            field="body",
        )
    return title, body


def _guide_lock(guide_id: int) -> Guide:
    # Every proposal of a guide and every decision on one takes the guide's row first: "is
    # this fix proposed already?" and the insert are then one step, and two accepted proposals
    # cannot pick the same free position.
    return Guide.objects.select_for_update().get(pk=guide_id)


@transaction.atomic
def step_proposal_submit(
    *,
    guide: Guide,
    language: str,
    title: str,
    body: str,
    ticket_id: int,
    ticket_reference: str,
    proposed_by: Any = None,
    same_as: int | None = None,
) -> StepProposal:
    """A solved ticket's fix, proposed as an alternative step of the guide it came from.

    The fix joins an open proposal of that guide when the agent chose it (``same_as``) or when
    its title is the same once normalised for search; otherwise it opens a new proposal. The
    ticket becomes one of the proposal's sources, once: the count authors see.

    The tickets app calls this after checking the agent may work the ticket and that it is
    solved (tickets.services.ticket_fix_propose); this app knows tickets by id only.
    """
    title, body = _step_text(title, body)
    if language not in Language.values:
        raise StepProposalError(_("Unknown language."), field="language")
    target = step_proposal_guide(guide=guide, language=language)
    if target is None:
        raise StepProposalError(
            _("The guide has no version in the ticket's language to propose the step to.")
        )
    guide = _guide_lock(target.pk)
    if StepProposalSource.objects.filter(ticket_id=ticket_id).exists():
        raise FixAlreadyProposed(_("This ticket's fix has been proposed already."))
    if same_as is not None:
        proposal = StepProposal.objects.filter(
            pk=same_as, guide=guide, status=StepProposal.Status.PROPOSED
        ).first()
        if proposal is None:
            raise StepProposalError(
                _("Choose one of the open proposals of this guide."), field="same_as"
            )
    else:
        key = normalise(title)[:300]
        proposal = (
            StepProposal.objects.filter(
                guide=guide, title_key=key, status=StepProposal.Status.PROPOSED
            ).first()
            if key
            else None
        )
        if proposal is None:
            proposal = StepProposal.objects.create(
                guide=guide, language=guide.language, title=title, body=body, title_key=key
            )
    StepProposalSource.objects.create(
        proposal=proposal, ticket_id=ticket_id, ticket_reference=ticket_reference,
        title=title, body=body, proposed_by=proposed_by,
    )  # fmt: skip
    return proposal


def _decision_start(proposal: StepProposal, actor: Any) -> tuple[Guide, StepProposal]:
    """The proposal's guide and the proposal, locked, once ``actor`` may decide on it and it
    is still open."""
    guide = _guide_lock(proposal.guide_id)
    if not user_decides_for_guide(actor, guide):
        raise StepProposalNotPermitted(
            _("Only the authors of this company's guides and supervisors decide on its steps.")
        )
    proposal = StepProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != StepProposal.Status.PROPOSED:
        raise StepProposalDecided(
            _("This proposal was %(status)s already.")
            % {"status": proposal.get_status_display().lower()}
        )
    return guide, proposal


def _alternative_position_make(guide: Guide) -> int:
    """A free position for a new alternative of the locked ``guide``: after the procedure and
    the alternatives, before the first last resort, which moves down one with every step
    after it (their ids, and so their statistics, stay)."""
    steps = list(Step.objects.filter(guide=guide).values_list("position", "kind"))
    last_resorts = [position for position, kind in steps if kind == Step.Kind.LAST_RESORT]
    if not last_resorts:
        position = max((position for position, _kind in steps), default=0) + 1
        moving = False
    else:
        first = min(last_resorts)
        position = max((p for p, kind in steps if p < first), default=0) + 1
        moving = position == first
    highest = max((p for p, _kind in steps), default=0) + (1 if moving else 0)
    if max(position, highest) > MAX_STEP_POSITION:
        raise StepProposalStateRefusal(
            _("This guide has no room for another step."), code="guide_full"
        )
    if moving:
        # unique(guide, position) is checked row by row: park the steps above every allowed
        # position, then bring them back one lower down the page.
        later = Step.objects.filter(guide=guide, position__gte=position)
        later.update(position=F("position") + MAX_STEP_POSITION)
        Step.objects.filter(guide=guide, position__gt=MAX_STEP_POSITION).update(
            position=F("position") - MAX_STEP_POSITION + 1
        )
    return position


@transaction.atomic
def step_proposal_accept(
    *, proposal: StepProposal, actor: Any, title: str | None = None, body: str | None = None
) -> Step:
    """Accept a proposal as a new alternative step of its guide, at the end of the
    alternatives and before any last resort; with ``title`` or ``body``, as the author edited
    it. The guide gets a new version."""
    guide, proposal = _decision_start(proposal, actor)
    title, body = _step_text(
        proposal.title if title is None else title, proposal.body if body is None else body
    )
    edited = (title, body) != (proposal.title, proposal.body.strip())
    step = Step.objects.create(
        guide=guide,
        position=_alternative_position_make(guide),
        kind=Step.Kind.ALTERNATIVE,
        title=title,
        body=body,
    )
    proposal.status = StepProposal.Status.EDITED if edited else StepProposal.Status.ACCEPTED
    proposal.decided_by, proposal.decided_at, proposal.step = actor, timezone.now(), step
    proposal.save(update_fields=["status", "decided_by", "decided_at", "step"])
    guide_search_index_update(guide_id=guide.pk)
    guide_pages_changed()  # the moved last resorts were an update(), which sends no signal
    # A new version: the statistics of the steps before and after do not mix.
    guide_version_record(guide=guide)
    return step


@transaction.atomic
def step_proposal_dismiss(*, proposal: StepProposal, actor: Any) -> StepProposal:
    """Dismiss a proposal: the guide stays as it is. A later ticket with the same fix opens a
    new proposal."""
    _guide, proposal = _decision_start(proposal, actor)
    proposal.status = StepProposal.Status.DISMISSED
    proposal.decided_by, proposal.decided_at = actor, timezone.now()
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    return proposal
