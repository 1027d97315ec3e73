"""Content gaps: where customers looked for help and the guides did not give it, per company
and language, for the authors (the admin's "Content gaps" page, guides.gaps_admin).

Six kinds, each read by one query whatever the data (and the steps of the third and fourth
by one more, shared):

- searches with no result, or with results of which none was opened (guides.search_log),
  grouped by their normalised words; searches through the API open nothing we can see, so
  they count as searches and as "no result" only;
- "needs work" answers with a comment;
- steps whose failure rate rose: the last WEEK_DAYS days against the BASELINE_DAYS before,
  from the rollup's StepDayTally rows (failure = (did not work + could not do) / tried), both
  periods with at least MIN_TRIED tries and a rise of at least MIN_RISE;
- the most common words in the failure notes of each step (the notes of "didn't work" and
  "couldn't do this"), tokenised as search does (guides.search.normalise: Arabic letters
  folded, articles stripped; a word and its Arabic light stem count as one) without the
  words that say nothing (NOTE_STOPWORDS);
- contact-form requests that opened no guide (no guide suggested to them was opened);
- follow-up questions (guides.follow_up) that no step answered well enough, or whose asker
  said the steps shown did not answer them.

Everything but the steps' rise looks back PERIOD_DAYS days.

Handled. An author marks an item handled (content_gap_handle): a ContentGapHandled row keyed
by the kind, the item's key, its company and language, with who and when. The item is hidden
for everything that happened up to then, and shows again when something new comes after it,
with the new evidence only: a new search of the same words, a comment changed by its
customer, new failure notes. A step's rise is judged over a whole week: its item stays hidden
until a week has passed since the handling, then shows again if the week after the handling
still fails more often than the weeks before. A mark applies to its own company's items only,
so the company is also what the permission to mark is checked against.

Who sees what (content_gap_companies): supervisors (``view_all_content_gaps``) every company;
authors (``view_content_gaps``) the companies they write for (Company.authors). Searches and
contact requests that named no company belong to none: everybody who sees the page sees them
when no company is chosen.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat, NullIf
from django.utils import timezone

from guides.models import (
    Attempt,
    Company,
    ContentGapHandled,
    ContentGapKind,
    Feedback,
    FollowUpQuestion,
    SearchLog,
    SearchSource,
    Step,
    StepDayTally,
    StepOutcome,
    StepOutcomeKind,
)
from guides.search import QUERY_STOPWORDS, arabic_stem, normalise

PERIOD_DAYS = 28
WEEK_DAYS = 7
BASELINE_DAYS = 28
# Tries needed in the week and in the weeks before for a rise to mean something.
MIN_TRIED = 20
# The rise of the failure rate (as a fraction) that makes a step a gap: ten points.
MIN_RISE = 0.10
# Items per section, the most telling first.
SECTION_LIMIT = 50
# The newest failure notes read for the words: enough for any step customers write about
# often, and a bound on the page's work at any data size.
NOTES_READ = 2000
# A step needs this many notes before its words say anything.
MIN_NOTES = 3
TOP_WORDS = 8

FAILURES = (StepOutcomeKind.DID_NOT_WORK, StepOutcomeKind.COULD_NOT_DO)

NOTE_STOPWORDS = QUERY_STOPWORDS | frozenset(
    normalise(
        "also again after all any before even just more now only some still then too very"
        " than into out up don doesn didn isn wasn won couldn wouldn try tried trying work works"
        " worked working it's nothing thing anything something please help"
        " ايضا كمان بس لكن ولكن حتى كان يكون عندي لي انه هو هي نفس غير شي شيء مره مرة"
        " حاولت جربت يعمل تعمل يشتغل ما لما اللي الي يا"
    ).split()
)


# --- who sees which companies ----------------------------------------------------------------


def content_gap_companies(user: Any) -> tuple[list[Company], bool]:
    """The companies whose gaps the user may see and mark, in name order, and whether that is
    every company (a supervisor's view) rather than those they write for."""
    if user.has_perm("guides.view_all_content_gaps"):
        return list(Company.objects.order_by("name", "pk")), True
    if user.has_perm("guides.view_content_gaps"):
        return list(user.authored_companies.order_by("name", "pk")), False
    return [], False


def content_gaps_visible_to(user: Any) -> bool:
    return user.has_perm("guides.view_content_gaps") or user.has_perm(
        "guides.view_all_content_gaps"
    )


# --- the items -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GapItem:
    """What every item has: what marking it handled names."""

    kind: str
    key: str
    company: Company | None
    language: str


@dataclass(frozen=True)
class SearchGap(GapItem):
    query: str
    searches: int
    no_result: int
    no_click: int
    last_seen: datetime


@dataclass(frozen=True)
class NeedsWorkGap(GapItem):
    feedback: Feedback


@dataclass(frozen=True)
class StepFailureGap(GapItem):
    step: Step
    tried_now: int
    failed_now: int
    tried_before: int
    failed_before: int

    @property
    def rate_now(self) -> float:
        return self.failed_now / self.tried_now

    @property
    def rate_before(self) -> float:
        return self.failed_before / self.tried_before


@dataclass(frozen=True)
class FailureWordsGap(GapItem):
    step: Step
    notes: int
    words: list[tuple[str, int]]  # (word, notes that have it), most common first


@dataclass(frozen=True)
class ContactRequestGap(GapItem):
    attempt: Attempt


@dataclass(frozen=True)
class FollowUpGap(GapItem):
    follow_up: FollowUpQuestion


@dataclass
class ContentGaps:
    searches: list[SearchGap] = field(default_factory=list)
    needs_work: list[NeedsWorkGap] = field(default_factory=list)
    step_failures: list[StepFailureGap] = field(default_factory=list)
    failure_words: list[FailureWordsGap] = field(default_factory=list)
    contact_requests: list[ContactRequestGap] = field(default_factory=list)
    follow_ups: list[FollowUpGap] = field(default_factory=list)


@dataclass(frozen=True)
class _Scope:
    """Which items: of these companies (None: any), and with company_field NULL too when
    ``unattributed`` (items that named no company); in this language (None: both). The
    companies by id, for the items (no query of their own)."""

    company_ids: list[int] | None
    unattributed: bool
    language: str | None
    by_id: dict[int, Company]

    def companies(self, company_field: str) -> Q:
        if self.company_ids is None:
            return Q()
        chosen = Q(**{f"{company_field}__in": self.company_ids})
        if self.unattributed:
            return chosen | Q(**{f"{company_field}__isnull": True})
        return chosen

    def languages(self, language_field: str) -> Q:
        return Q(**{language_field: self.language}) if self.language else Q()


def content_gaps(
    *,
    companies: list[Company],
    every_company: bool,
    company: Company | None = None,
    language: str | None = None,
    now: datetime | None = None,
) -> ContentGaps:
    """The content gaps of one ``company``, or else of all the ``companies`` the reader sees
    (``every_company``: they are all there are) with the items that named no company; in
    one language or both. Seven queries, and one more for the steps when some step has
    something to show."""
    now = now or timezone.now()
    by_id = {c.pk: c for c in companies}
    if company is not None:
        scope = _Scope([company.pk], unattributed=False, language=language, by_id=by_id)
    else:
        ids = None if every_company else list(by_id)
        scope = _Scope(ids, unattributed=True, language=language, by_id=by_id)
    since = now - timedelta(days=PERIOD_DAYS)
    rises = _step_failure_rows(scope, now)
    notes = _failure_note_rows(scope, since)
    # One read of the steps (with their guides) that both step sections show.
    steps = Step.objects.select_related("guide__company").in_bulk(
        {row["step_key"] for row in rises} | {row["step_id"] for row in notes}
    )
    return ContentGaps(
        searches=_search_gaps(scope, since),
        needs_work=_needs_work_gaps(scope, since),
        step_failures=_step_failure_gaps(rises, steps),
        failure_words=_failure_words_gaps(notes, steps),
        contact_requests=_contact_request_gaps(scope, since),
        follow_ups=_follow_up_gaps(scope, since),
    )


def _handled(kind: str, key: Any, company: str, language: str, evidence_at: Any) -> Exists:
    """A mark on the item of the outer row made at or after ``evidence_at``: what hides the
    row. ``company`` and ``language`` name the outer row's fields (the company may be NULL)."""
    return Exists(
        ContentGapHandled.objects.filter(
            kind=kind, key=key, language=OuterRef(language), handled_at__gte=evidence_at
        )
        .annotate(company_key=Coalesce("company_id", 0))
        .filter(company_key=Coalesce(OuterRef(company), 0))
    )


def _text(field_name: str) -> Cast:
    return Cast(OuterRef(field_name), output_field=CharField())


def step_gap_key(*, guide_id: int, step_id: int) -> str:
    """The key of a step's items, as _step_key builds it in SQL."""
    return f"{guide_id}:{step_id}"


def _step_key(guide_field: str, step_field: str) -> Concat:
    return Concat(_text(guide_field), Value(":"), _text(step_field), output_field=CharField())


# --- (a) searches with no result or no click -------------------------------------------------


def _search_gaps(scope: _Scope, since: datetime) -> list[SearchGap]:
    rows = (
        SearchLog.objects.filter(searched_at__gte=since)
        .filter(scope.companies("company_id"), scope.languages("language"))
        .filter(
            ~_handled(
                ContentGapKind.SEARCH,
                OuterRef("query"),
                "company_id",
                "language",
                OuterRef("searched_at"),
            )
        )
        .values("query", "company_id", "language")
        .annotate(
            searches=Count("pk"),
            no_result=Count("pk", filter=Q(result_count=0)),
            no_click=Count(
                "pk",
                filter=Q(result_count__gt=0, clicked_at__isnull=True) & ~Q(source=SearchSource.API),
            ),
            last_seen=Max("searched_at"),
        )
        .filter(Q(no_result__gt=0) | Q(no_click__gt=0))
        .annotate(gaps=F("no_result") + F("no_click"))
        .order_by("-gaps", "-last_seen", "query", "company_id", "language")[:SECTION_LIMIT]
    )
    return [
        SearchGap(
            kind=ContentGapKind.SEARCH,
            key=row["query"],
            company=scope.by_id.get(row["company_id"]),
            language=row["language"],
            query=row["query"],
            searches=row["searches"],
            no_result=row["no_result"],
            no_click=row["no_click"],
            last_seen=row["last_seen"],
        )
        for row in rows
    ]


# --- (b) "needs work" comments ---------------------------------------------------------------


def _needs_work_gaps(scope: _Scope, since: datetime) -> list[NeedsWorkGap]:
    # updated_at: answering again replaces the answer, and a changed comment is news.
    answers = (
        Feedback.objects.filter(helpful=False, updated_at__gte=since)
        .exclude(comment="")
        .filter(scope.companies("guide__company_id"), scope.languages("guide__language"))
        .filter(
            ~_handled(
                ContentGapKind.NEEDS_WORK,
                _text("pk"),
                "guide__company_id",
                "guide__language",
                OuterRef("updated_at"),
            )
        )
        .select_related("guide__company")
        .order_by("-updated_at", "-pk")[:SECTION_LIMIT]
    )
    return [
        NeedsWorkGap(
            kind=ContentGapKind.NEEDS_WORK,
            key=str(answer.pk),
            company=answer.guide.company,
            language=answer.guide.language,
            feedback=answer,
        )
        for answer in answers
    ]


# --- (c) steps failing more often ------------------------------------------------------------


def _step_failure_rows(scope: _Scope, now: datetime) -> list[dict[str, Any]]:
    today = timezone.localdate(now)
    week_start = today - timedelta(days=WEEK_DAYS - 1)
    baseline_start = week_start - timedelta(days=BASELINE_DAYS)
    # A mark made within the week hides the step: the week's figures include what was
    # handled. A week after it, they are all newer than the handling.
    week_began = timezone.make_aware(datetime.combine(week_start, datetime.min.time()))
    tried = F("worked") + F("did_not_work") + F("could_not_do")
    failed = F("did_not_work") + F("could_not_do")
    this_week = Q(day__gte=week_start)
    before = Q(day__lt=week_start)

    def rate(failures: str, tries: str) -> Any:
        return Cast(failures, FloatField()) / Cast(NullIf(tries, 0), FloatField())

    rows = (
        StepDayTally.objects.filter(day__gte=baseline_start, day__lte=today)
        .filter(scope.companies("guide__company_id"), scope.languages("language"))
        .filter(
            ~_handled(
                ContentGapKind.STEP_FAILURES,
                _step_key("guide_id", "step_key"),
                "guide__company_id",
                "language",
                week_began,
            )
        )
        .values("guide_id", "step_key", "language")
        .annotate(
            tried_now=Sum(tried, filter=this_week, output_field=IntegerField()),
            failed_now=Sum(failed, filter=this_week, output_field=IntegerField()),
            tried_before=Sum(tried, filter=before, output_field=IntegerField()),
            failed_before=Sum(failed, filter=before, output_field=IntegerField()),
        )
        .filter(tried_now__gte=MIN_TRIED, tried_before__gte=MIN_TRIED)
        .annotate(rise=rate("failed_now", "tried_now") - rate("failed_before", "tried_before"))
        .filter(rise__gte=MIN_RISE)
        .order_by("-rise", "guide_id", "step_key", "language")[:SECTION_LIMIT]
    )
    return list(rows)


def _step_failure_gaps(rows: list[dict[str, Any]], steps: dict[int, Step]) -> list[StepFailureGap]:
    gaps = []
    for row in rows:
        step = steps.get(row["step_key"])
        if step is None or step.guide_id != row["guide_id"]:
            continue  # deleted since: nothing left to fix
        gaps.append(
            StepFailureGap(
                kind=ContentGapKind.STEP_FAILURES,
                key=step_gap_key(guide_id=step.guide_id, step_id=step.pk),
                company=step.guide.company,
                language=row["language"],
                step=step,
                tried_now=row["tried_now"],
                failed_now=row["failed_now"],
                tried_before=row["tried_before"],
                failed_before=row["failed_before"],
            )
        )
    return gaps


# --- (d) the words of failure notes ----------------------------------------------------------


def _failure_note_rows(scope: _Scope, since: datetime) -> list[dict[str, Any]]:
    # The filter matches the partial index outcome_recent_failure_idx.
    notes = (
        StepOutcome.objects.filter(outcome__in=FAILURES, recorded_at__gte=since, step__isnull=False)
        .exclude(note="")
        .filter(scope.companies("step__guide__company_id"), scope.languages("attempt__language"))
        .filter(
            ~_handled(
                ContentGapKind.FAILURE_WORDS,
                _step_key("step__guide_id", "step_id"),
                "step__guide__company_id",
                "attempt__language",
                OuterRef("recorded_at"),
            )
        )
        .order_by("-recorded_at", "-pk")
        .values("step_id", "note", language=F("attempt__language"))[:NOTES_READ]
    )
    return [dict(row) for row in notes]


def note_words(note: str) -> list[tuple[str, str]]:
    """The words of a note that may say something, each once: (its Arabic light stem, which
    counts, and the word as written after normalising, which is shown)."""
    words = dict.fromkeys(
        word
        for word in normalise(note).split()
        if word not in NOTE_STOPWORDS and not word.isdigit()
    )
    return [(arabic_stem(word), word) for word in words]


def _failure_words_gaps(
    rows: list[dict[str, Any]], steps: dict[int, Step]
) -> list[FailureWordsGap]:
    notes: Counter[tuple[int, str]] = Counter()
    stems: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
    spellings: dict[tuple[int, str], dict[str, Counter[str]]] = defaultdict(
        lambda: defaultdict(Counter)
    )
    for row in rows:
        item = (row["step_id"], row["language"])
        notes[item] += 1
        for stem, word in note_words(row["note"]):
            stems[item][stem] += 1
            spellings[item][stem][word] += 1
    gaps = []
    for item, count in notes.most_common():
        step = steps.get(item[0])
        if count < MIN_NOTES or step is None:
            continue
        common = sorted(stems[item].items(), key=lambda pair: (-pair[1], pair[0]))[:TOP_WORDS]
        words = [(spellings[item][stem].most_common(1)[0][0], n) for stem, n in common]
        gaps.append(
            FailureWordsGap(
                kind=ContentGapKind.FAILURE_WORDS,
                key=step_gap_key(guide_id=step.guide_id, step_id=step.pk),
                company=step.guide.company,
                language=item[1],
                step=step,
                notes=count,
                words=words,
            )
        )
        if len(gaps) == SECTION_LIMIT:
            break
    return gaps


# --- (e) contact requests that opened no guide -----------------------------------------------


def _contact_request_gaps(scope: _Scope, since: datetime) -> list[ContactRequestGap]:
    opened = Attempt.opened_guides.through.objects.filter(attempt_id=OuterRef("pk"))
    requests = (
        Attempt.objects.filter(guide__isnull=True, started_at__gte=since)
        .filter(scope.companies("company_id"), scope.languages("language"))
        .filter(~Exists(opened))
        .filter(
            ~_handled(
                ContentGapKind.CONTACT_REQUEST,
                _text("pk"),
                "company_id",
                "language",
                OuterRef("started_at"),
            )
        )
        .only("pk", "company_id", "language", "description", "started_at", "status")
        .order_by("-started_at", "-pk")[:SECTION_LIMIT]
    )
    return [
        ContactRequestGap(
            kind=ContentGapKind.CONTACT_REQUEST,
            key=str(attempt.pk),
            company=scope.by_id.get(attempt.company_id) if attempt.company_id else None,
            language=attempt.language,
            attempt=attempt,
        )
        for attempt in requests
    ]


# --- (f) follow-up questions not answered ---------------------------------------------------


def _follow_up_gaps(scope: _Scope, since: datetime) -> list[FollowUpGap]:
    # A "no" said after a mark is news: the evidence is the answer's time, or the asking's.
    questions = (
        FollowUpQuestion.objects.filter(asked_at__gte=since)
        .filter(Q(answer_count=0) | Q(answered=False))
        .filter(scope.companies("company_id"), scope.languages("language"))
        .annotate(evidence_at=Coalesce("answered_at", "asked_at"))
        .filter(
            ~_handled(
                ContentGapKind.FOLLOW_UP,
                _text("pk"),
                "company_id",
                "language",
                OuterRef("evidence_at"),
            )
        )
        .select_related("guide")
        .order_by("-asked_at", "-pk")[:SECTION_LIMIT]
    )
    return [
        FollowUpGap(
            kind=ContentGapKind.FOLLOW_UP,
            key=str(question.pk),
            company=scope.by_id.get(question.company_id) if question.company_id else None,
            language=question.language,
            follow_up=question,
        )
        for question in questions
    ]


# --- marking handled -------------------------------------------------------------------------


def content_gap_handle(
    *, kind: str, key: str, company: Company | None, language: str, user: Any
) -> ContentGapHandled:
    """Mark an item handled now, by ``user``: it is hidden until something new comes (see the
    module). Marking it again moves the time. The caller has checked that the user may see
    the company's gaps (content_gap_companies)."""
    now = timezone.now()
    marks = ContentGapHandled.objects.filter(kind=kind, key=key, language=language)
    marks = marks.filter(company=company) if company is not None else marks.filter(company=None)
    with transaction.atomic():
        if marks.update(handled_at=now, handled_by=user):
            return marks.get()
        try:
            with transaction.atomic():
                return ContentGapHandled.objects.create(
                    kind=kind,
                    key=key,
                    company=company,
                    language=language,
                    handled_at=now,
                    handled_by=user,
                )
        except IntegrityError:  # another author marked it at the same moment
            marks.update(handled_at=now, handled_by=user)
            return marks.get()
