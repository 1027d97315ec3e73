"""Search across published guides, in Arabic and English.

Every text goes through ``normalise`` before the database sees it, at index time and at query
time alike, so both sides always agree on what a word is. Arabic words are also indexed under
their light stem (``arabic_stem``: "بطاقتي", "بطاقتك" and "بطاقة" are all "بطاق"), and queries
look for the stem. The database then only matches and ranks tokens:

- PostgreSQL: a stored ``search_vector`` (tsvector, generated from the normalised columns of
  GuideSearchDocument, see migration 0003_search) with a GIN index, ranked with ``ts_rank``;
  pg_trgm's word similarity is the fallback for misspelt or partial words.
- SQLite: the FTS5 table ``guides_guidesearch_fts`` (rowid = guide id), written here next to
  the document row, ranked with ``bm25``.

Both rank the guides that contain every query word first, then by weight: title above summary
above body (the steps, the tags and the company name).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet

from guides.models import Guide, GuideSearchDocument, Language, Step
from guides.search_text import (  # noqa: F401 (re-exported: callers import them from here)
    MAX_TOKEN_CHARS,
    QUERY_STOPWORDS,
    arabic_stem,
    normalise,
)
from guides.selectors import published_guides
from guides.spelling import corrected_words, search_words_changed

# A search box holds a question, not a document: longer input is cut before it is normalised
# and only the first words count, so odd input cannot make a query expensive.
MAX_QUERY_CHARS = 300
MAX_QUERY_TOKENS = 12
# Words shorter than this match exactly; longer ones also match as the start of a longer
# word ("spoti" finds "spotify", "بطاق" finds "بطاقه"), which also stands in for plurals.
MIN_PREFIX_CHARS = 3
# More results than anyone reads; a bigger limit would only make the ranking sort longer.
MAX_LIMIT = 200
INDEX_BATCH_SIZE = 200

_SLUG = re.compile(r"[-a-zA-Z0-9_]+")


def _with_stems(normalised: str) -> str:
    """Index text: each word, followed by its Arabic stem when that differs, so a query
    (which is stemmed, see _query_tokens) finds "بطاقتك" by "بطاقتي" or "البطاقة"."""
    tokens = []
    for word in normalised.split():
        tokens.append(word)
        stem = arabic_stem(word)
        if stem != word:
            tokens.append(stem)
    return " ".join(tokens)


# --- index -------------------------------------------------------------------------------


def _guides_to_index() -> QuerySet[Guide]:
    return (
        published_guides()
        .prefetch_related(
            Prefetch(
                "steps",
                queryset=Step.objects.only("guide_id", "title", "body").order_by("position"),
            )
        )
        .only("id", "company_id", "language", "title", "summary", "company__name")
        .order_by("pk")
    )


def _document_of(guide: Guide) -> GuideSearchDocument:
    body_parts = [f"{step.title}\n{step.body}" for step in guide.steps.all()]
    body_parts += [tag.slug for tag in guide.tags.all()]
    body_parts.append(guide.company.name)
    return GuideSearchDocument(
        guide_id=guide.pk,
        company_id=guide.company_id,
        language=guide.language,
        title=_with_stems(normalise(guide.title)),
        summary=_with_stems(normalise(guide.summary)),
        body=_with_stems(normalise("\n".join(body_parts))),
    )


def _documents_write(documents: Sequence[GuideSearchDocument]) -> None:
    """Insert or replace the search rows of these guides.

    An upsert, so that two imports of the same guide racing on PostgreSQL cannot both insert;
    the tsvector column there is generated from these columns by the database itself.
    """
    if not documents:
        return
    search_words_changed()
    GuideSearchDocument.objects.bulk_create(
        documents,
        update_conflicts=True,
        unique_fields=["guide"],
        update_fields=["company", "language", "title", "summary", "body"],
    )
    if connection.vendor == "sqlite":
        # Not an external-content table kept by triggers: Django rebuilds a SQLite table to
        # alter it, which would silently drop the triggers. Stale rows of deleted guides are
        # harmless: every search joins the document table.
        _sqlite_fts_delete([doc.guide_id for doc in documents])
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO guides_guidesearch_fts (rowid, title, summary, body)"
                " VALUES (%s, %s, %s, %s)",
                [(doc.guide_id, doc.title, doc.summary, doc.body) for doc in documents],
            )


def _sqlite_fts_delete(guide_ids: Sequence[int] | None) -> None:
    with connection.cursor() as cursor:
        if guide_ids is None:
            cursor.execute("DELETE FROM guides_guidesearch_fts")
        elif guide_ids:
            marks = ", ".join(["%s"] * len(guide_ids))
            sql = f"DELETE FROM guides_guidesearch_fts WHERE rowid IN ({marks})"  # noqa: S608
            cursor.execute(sql, guide_ids)


def guide_search_index_update(*, guide_id: int) -> None:
    """(Re)build the search row of one guide, or remove it when the guide is gone or not
    published. Four queries on PostgreSQL, six on SQLite, whatever the size of the guide."""
    with transaction.atomic():
        guide = _guides_to_index().filter(pk=guide_id).first()
        if guide is None:
            if GuideSearchDocument.objects.filter(guide_id=guide_id).delete()[0]:
                search_words_changed()
            if connection.vendor == "sqlite":
                _sqlite_fts_delete([guide_id])
            return
        _documents_write([_document_of(guide)])


def _index_guides(guide_ids: Sequence[int]) -> None:
    for start in range(0, len(guide_ids), INDEX_BATCH_SIZE):
        batch = _guides_to_index().filter(pk__in=guide_ids[start : start + INDEX_BATCH_SIZE])
        _documents_write([_document_of(guide) for guide in batch])


@transaction.atomic
def guide_search_index_update_for(
    *,
    company_id: int | None = None,
    tag_id: int | None = None,
    guide_ids: Sequence[int] | None = None,
) -> int:
    """Re-index the published guides of a company or a tag whose name changed, or the guides
    named (those of a tag that was deleted): the company's name and the tags are words of
    every guide's search row. In batches, not a query set per guide. Returns how many guides
    were re-indexed."""
    guides = Guide.objects.filter(status=Guide.Status.PUBLISHED)
    if company_id is not None:
        guides = guides.filter(company_id=company_id)
    if tag_id is not None:
        guides = guides.filter(tags__id=tag_id)
    if guide_ids is not None:
        guides = guides.filter(pk__in=guide_ids)
    ids = list(guides.order_by("pk").values_list("pk", flat=True).distinct())
    _index_guides(ids)
    return len(ids)


@transaction.atomic
def guide_search_index_rebuild() -> int:
    """Index every published guide from scratch; returns how many were indexed.

    In one transaction, so searches running meanwhile see the old index until it commits.
    """
    GuideSearchDocument.objects.all().delete()
    search_words_changed()
    if connection.vendor == "sqlite":
        _sqlite_fts_delete(None)
    published = Guide.objects.filter(status=Guide.Status.PUBLISHED).order_by("pk")
    ids = list(published.values_list("pk", flat=True))
    _index_guides(ids)
    return len(ids)


# --- search ------------------------------------------------------------------------------


def _query_words(query: str) -> list[str]:
    tokens = list(dict.fromkeys(normalise(query[:MAX_QUERY_CHARS]).split()))
    # Customers type questions ("I can't change my card"); PostgreSQL's ts_rank has no idea
    # that "my" is in every guide, so such words would decide the order. They are dropped
    # unless the query has nothing else.
    meaningful = [token for token in tokens if token not in QUERY_STOPWORDS]
    return (meaningful or tokens)[:MAX_QUERY_TOKENS]


def _query_tokens(words: list[str]) -> list[str]:
    # Stemmed: "بطاقتي" looks for "بطاق", which the index holds beside each form of the word
    # (and, as a prefix, matches every longer form too).
    return list(dict.fromkeys(arabic_stem(word) for word in words))[:MAX_QUERY_TOKENS]


def search_terms(query: str, *, language: str | None = None) -> list[str]:
    """The words a search for ``query`` looks for, spelling corrected (guides.spelling), as
    normalised words: what the result snippets mark (guides.snippets)."""
    return list(dict.fromkeys(corrected_words(_query_words(query), language=language)))


def _filters_sql(company: str | None, language: str | None) -> tuple[str, list[str | int]]:
    sql = " AND g.status = %s"
    params: list[str | int] = [Guide.Status.PUBLISHED.value]
    if company:
        sql += " AND d.company_id = (SELECT id FROM guides_company WHERE slug = %s)"
        params.append(company)
    if language:
        sql += " AND d.language = %s"
        params.append(language)
    return sql, params


def _postgresql_search_ids(
    tokens: list[str], company: str | None, language: str | None, prefer: str, limit: int
) -> list[int]:
    # One tsquery term per word: its exact form (and prefix, for longer words) over the
    # 'simple' lexemes, or its English stem over the extra lexemes of English guides. Tokens
    # hold only letters and digits (see normalise) and are quoted, so they cannot be operators.
    terms = []
    term_params: list[str | int] = []
    for token in tokens:
        suffix = ":*" if len(token) >= MIN_PREFIX_CHARS else ""
        terms.append("(to_tsquery('simple', %s) || to_tsquery('english', %s))")
        term_params += [f"'{token}'{suffix}", f"'{token}'"]
    filters, filter_params = _filters_sql(company, language)
    text = "(d.title || ' ' || d.summary || ' ' || d.body)"
    # How many of the query's words the guide holds, one column of q per word.
    words_held = " + ".join(f"(d.search_vector @@ q.w{n})::int" for n in range(len(terms)))
    columns = ", ".join(f"{term} AS w{n}" for n, term in enumerate(terms))
    sql = f"""
        WITH q AS (SELECT {columns}, {" || ".join(terms)} AS any_word)
        SELECT d.guide_id
        FROM guides_guidesearchdocument d
        JOIN guides_guide g ON g.id = d.guide_id
        CROSS JOIN q
        WHERE (d.search_vector @@ q.any_word OR %s <%% {text}) {filters}
        ORDER BY
            d.language = %s DESC,
            {words_held} DESC,
            ts_rank('{{0.1, 0.2, 0.4, 1.0}}', d.search_vector, q.any_word) DESC,  -- D C B A
            word_similarity(%s, {text}) DESC,
            d.guide_id
        LIMIT %s
    """  # noqa: S608
    phrase = " ".join(tokens)
    params = [*term_params, *term_params, phrase, *filter_params, prefer, phrase, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _sqlite_search_ids(
    tokens: list[str], company: str | None, language: str | None, prefer: str, limit: int
) -> list[int]:
    # FTS5 query syntax: each word quoted (so "AND", "NEAR" or "*" are plain words), with *
    # for a prefix match. Tokens hold only letters and digits (see normalise).
    terms = [f'"{t}"*' if len(t) >= MIN_PREFIX_CHARS else f'"{t}"' for t in tokens]
    filters, filter_params = _filters_sql(company, language)
    # How many of the query's words the guide holds: one lookup of the index per word.
    words_held = " + ".join(
        [
            "(hit.guide_id IN (SELECT rowid FROM guides_guidesearch_fts"
            " WHERE guides_guidesearch_fts MATCH %s))"
        ]
        * len(terms)
    )
    sql = f"""
        SELECT d.guide_id
        FROM (
            SELECT rowid AS guide_id, bm25(guides_guidesearch_fts, 10.0, 4.0, 2.0) AS score
            FROM guides_guidesearch_fts WHERE guides_guidesearch_fts MATCH %s
        ) AS hit
        JOIN guides_guidesearchdocument d ON d.guide_id = hit.guide_id
        JOIN guides_guide g ON g.id = d.guide_id
        WHERE 1 = 1 {filters}
        ORDER BY
            d.language = %s DESC,
            {words_held} DESC,
            hit.score,
            d.guide_id
        LIMIT %s
    """  # noqa: S608
    params = [" OR ".join(terms), *filter_params, prefer, *terms, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def search_guide_ids(
    *,
    query: str,
    company: str | None = None,
    language: str | None = None,
    prefer_language: str | None = None,
    limit: int = MAX_LIMIT,
) -> list[int]:
    """Ids of the published guides matching ``query``, best first, in one query (and, the
    first time after the index changed, one more that reads the spelling vocabulary).

    The query's misspelt and colloquial words are corrected first (guides.spelling), so
    "netflx pasword" searches for "netflix password". ``prefer_language`` puts the guides
    of that language before the others, each part best first (and corrects towards that
    language's words); ``language`` keeps only that language's.

    For callers that narrow or paginate a queryset of their own (the API); ``search_guides``
    returns the guides themselves. ``company`` is a company slug. Any input is accepted: text
    with nothing searchable in it, or a company or language that cannot exist, gives an empty
    list without asking the database.
    """
    words = _query_words(query)
    limit = min(int(limit), MAX_LIMIT)
    if not words or limit <= 0:
        return []
    if company and not _SLUG.fullmatch(company):
        return []
    if language and language not in Language.values:
        return []
    prefer = prefer_language if prefer_language in Language.values else ""
    tokens = _query_tokens(corrected_words(words, language=language or prefer or None))
    if connection.vendor == "postgresql":
        return _postgresql_search_ids(tokens, company, language, prefer or "", limit)
    if connection.vendor == "sqlite":
        return _sqlite_search_ids(tokens, company, language, prefer or "", limit)
    raise NotImplementedError(f"guide search does not support {connection.vendor}")


def search_guides(
    *,
    query: str,
    company: str | None = None,
    language: str | None = None,
    prefer_language: str | None = None,
    limit: int = 50,
) -> list[Guide]:
    """Published guides matching ``query``, best first (those of ``prefer_language`` first,
    see search_guide_ids), with their company and tags, in three queries whatever the data
    (none for a query with nothing searchable in it)."""
    ids = search_guide_ids(
        query=query,
        company=company,
        language=language,
        prefer_language=prefer_language,
        limit=limit,
    )
    if not ids:
        return []
    guides = published_guides().filter(pk__in=ids).in_bulk()
    return [guides[pk] for pk in ids if pk in guides]
