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
import unicodedata
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet

from guides.models import Guide, GuideSearchDocument, Language, Step
from guides.selectors import published_guides

# A search box holds a question, not a document: longer input is cut before it is normalised
# and only the first words count, so odd input cannot make a query expensive.
MAX_QUERY_CHARS = 300
MAX_QUERY_TOKENS = 12
# Words shorter than this match exactly; longer ones also match as the start of a longer
# word ("spoti" finds "spotify", "بطاق" finds "بطاقه"), which also stands in for plurals.
MIN_PREFIX_CHARS = 3
# Longer "words" are hashes or pasted garbage that nobody types into a search box, and
# PostgreSQL refuses to index words over 2047 bytes.
MAX_TOKEN_CHARS = 60
# More results than anyone reads; a bigger limit would only make the ranking sort longer.
MAX_LIMIT = 200
INDEX_BATCH_SIZE = 200

_ARABIC_FOLDS = str.maketrans(
    {
        # Hamza and madda forms of alef, and the wasla, are spelt as a bare alef by most typists.
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        # Hamza on a seat is, like the short vowels, a mark that casual (phone) typing often
        # leaves out: "سوال" for "سؤال", "رييس" for "رئيس". Keeping only the seat letter lets
        # those queries match; words that differ only by this hamza are rare enough to accept.
        "ؤ": "و",
        "ئ": "ي",
        # Final yeh is written without dots (alef maqsura) in Egypt and often typed either
        # way; the same goes for teh marbuta and heh. Folded on both sides, so it stays
        # consistent: "مشكلة" and "مشكله" are one word.
        "ى": "ي",
        "ة": "ه",
        # Persian keyboards, common for Arabic typists, produce these letter variants.
        "ی": "ي",
        "ک": "ك",
        # Tatweel only stretches a word on the line.
        "ـ": None,
        # Arabic-Indic and Eastern Arabic-Indic digits.
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
    }
)
# Definite article and the prepositions/conjunctions glued to it, longest first so that
# "والبطاقة" loses "وال" and not just the "و". A word keeps its prefix when less than two
# letters would remain ("والد", "الي").
_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_WORD = re.compile(r"[^\W_]+")
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")


# Suffixes glued to the end of a word: the possessive and object pronouns ("بطاقتي" my card,
# "حسابك" your account, "تغييرها" changing it), the feminine plural ("بطاقات") and teh
# marbuta, already folded to heh ("بطاقه"). Longest first, one per word.
_ARABIC_SUFFIXES = ("كما", "هما", "كم", "هم", "هن", "كن", "نا", "ها", "ات", "ي", "ك", "ه")
# The shortest stem a suffix is taken from: "بنك" (bank) and "وقت" (time) stay whole.
_MIN_ARABIC_STEM = 3


def arabic_stem(word: str) -> str:
    """``word`` (normalised) without one suffix of _ARABIC_SUFFIXES, so that "بطاقتي",
    "بطاقتك", "بطاقات" and "بطاقة" all come to "بطاق".

    A teh left at the end of a longer stem stood for the teh marbuta the suffix was glued to
    ("بطاقت" + "ي"), so it goes too. A word of another script, or whose stem would be too
    short, is returned whole. Light on purpose: the index keeps every word as written beside
    its stem (see _with_stems), so a stem that cuts a root letter ("اشتراك" → "اشترا") only
    widens a prefix match; it never hides the word."""
    if not word or not "\u0621" <= word[-1] <= "\u064a":
        return word
    for suffix in _ARABIC_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_ARABIC_STEM:
            stem = word[: -len(suffix)]
            if stem.endswith("ت") and len(stem) > _MIN_ARABIC_STEM:
                stem = stem[:-1]
            return stem
    return word


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


def _strip_prefix(word: str) -> str:
    for prefix in _ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            return word[len(prefix) :]
    return word


def normalise(text: str) -> str:
    """Search tokens of ``text`` separated by single spaces, identical for index and query.

    Lower-cased, Arabic letters folded (see _ARABIC_FOLDS), diacritics of any script removed
    (harakat U+064B–U+065F, superscript alef U+0670, Quranic marks, Latin accents), compatibility
    forms unfolded (Arabic presentation forms, ligatures, full-width letters), digits made ASCII,
    punctuation dropped, Arabic article prefixes stripped. Single letters ("s" of "Spotify's",
    "t" of "can't") are dropped: they match everything and mean nothing.
    """
    text = text.casefold().translate(_ARABIC_FOLDS)
    # NFKD splits letters from their marks (and unfolds compatibility forms); dropping the
    # combining marks then removes harakat, superscript alef and accents in one pass.
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    text = unicodedata.normalize("NFC", text)
    tokens = []
    for word in _WORD.findall(text):
        word = _strip_prefix(word)
        if (len(word) > 1 or word.isdigit()) and len(word) <= MAX_TOKEN_CHARS:
            tokens.append(word)
    return " ".join(tokens)


QUERY_STOPWORDS = frozenset(
    normalise(
        "a an the i me my you your it its is are was were be been am to of in on at for with"
        " from by as and or but not no if so do does did done can cannot could will would how"
        " what why when where which who this that there have has had get got"
        " في من الى إلى على عن مع لا لم لن ما ماذا هل كيف لماذا هذا هذه ذلك تلك التي الذي"
        " أنا انا أن إن أو او ثم قد كل بعد قبل عند"
    ).split()
)


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
            GuideSearchDocument.objects.filter(guide_id=guide_id).delete()
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
    if connection.vendor == "sqlite":
        _sqlite_fts_delete(None)
    published = Guide.objects.filter(status=Guide.Status.PUBLISHED).order_by("pk")
    ids = list(published.values_list("pk", flat=True))
    _index_guides(ids)
    return len(ids)


# --- search ------------------------------------------------------------------------------


def _query_tokens(query: str) -> list[str]:
    tokens = list(dict.fromkeys(normalise(query[:MAX_QUERY_CHARS]).split()))
    # Customers type questions ("I can't change my card"); PostgreSQL's ts_rank has no idea
    # that "my" is in every guide, so such words would decide the order. They are dropped
    # unless the query has nothing else.
    meaningful = [token for token in tokens if token not in QUERY_STOPWORDS]
    # Stemmed: "بطاقتي" looks for "بطاق", which the index holds beside each form of the word
    # (and, as a prefix, matches every longer form too).
    stemmed = [arabic_stem(token) for token in (meaningful or tokens)]
    return list(dict.fromkeys(stemmed))[:MAX_QUERY_TOKENS]


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
    tokens: list[str], company: str | None, language: str | None, limit: int
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
    sql = f"""
        WITH q AS (SELECT {" && ".join(terms)} AS every_word, {" || ".join(terms)} AS any_word)
        SELECT d.guide_id
        FROM guides_guidesearchdocument d
        JOIN guides_guide g ON g.id = d.guide_id
        CROSS JOIN q
        WHERE (d.search_vector @@ q.any_word OR %s <%% {text}) {filters}
        ORDER BY
            d.search_vector @@ q.every_word DESC,
            ts_rank('{{0.1, 0.2, 0.4, 1.0}}', d.search_vector, q.any_word) DESC,  -- D C B A
            word_similarity(%s, {text}) DESC,
            d.guide_id
        LIMIT %s
    """  # noqa: S608
    phrase = " ".join(tokens)
    params = [*term_params, *term_params, phrase, *filter_params, phrase, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _sqlite_search_ids(
    tokens: list[str], company: str | None, language: str | None, limit: int
) -> list[int]:
    # FTS5 query syntax: each word quoted (so "AND", "NEAR" or "*" are plain words), with *
    # for a prefix match. Tokens hold only letters and digits (see normalise).
    terms = [f'"{t}"*' if len(t) >= MIN_PREFIX_CHARS else f'"{t}"' for t in tokens]
    filters, filter_params = _filters_sql(company, language)
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
            hit.guide_id IN (
                SELECT rowid FROM guides_guidesearch_fts WHERE guides_guidesearch_fts MATCH %s
            ) DESC,
            hit.score,
            d.guide_id
        LIMIT %s
    """  # noqa: S608
    params = [" OR ".join(terms), *filter_params, " AND ".join(terms), limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def search_guide_ids(
    *,
    query: str,
    company: str | None = None,
    language: str | None = None,
    limit: int = MAX_LIMIT,
) -> list[int]:
    """Ids of the published guides matching ``query``, best first, in one query.

    For callers that narrow or paginate a queryset of their own (the API); ``search_guides``
    returns the guides themselves. ``company`` is a company slug. Any input is accepted: text
    with nothing searchable in it, or a company or language that cannot exist, gives an empty
    list without asking the database.
    """
    tokens = _query_tokens(query)
    limit = min(int(limit), MAX_LIMIT)
    if not tokens or limit <= 0:
        return []
    if company and not _SLUG.fullmatch(company):
        return []
    if language and language not in Language.values:
        return []
    if connection.vendor == "postgresql":
        return _postgresql_search_ids(tokens, company, language, limit)
    if connection.vendor == "sqlite":
        return _sqlite_search_ids(tokens, company, language, limit)
    raise NotImplementedError(f"guide search does not support {connection.vendor}")


def search_guides(
    *, query: str, company: str | None = None, language: str | None = None, limit: int = 50
) -> list[Guide]:
    """Published guides matching ``query``, best first, with their company and tags, in three
    queries whatever the data (none for a query with nothing searchable in it)."""
    ids = search_guide_ids(query=query, company=company, language=language, limit=limit)
    if not ids:
        return []
    guides = published_guides().filter(pk__in=ids).in_bulk()
    return [guides[pk] for pk in ids if pk in guides]
