"""Search documents of published guides, and what each database matches them with.

The model's columns are the same everywhere; the matching structure exists on one backend
only, so it is created by SQL guarded by the vendor instead of by model fields (see
guides/search.py for the queries that use it).
"""

import django.db.models.deletion
from django.db import migrations, models

# 'simple' only lower-cases and splits: the texts are already normalised by
# guides.search.normalise, which does the Arabic folding, diacritic and prefix stripping that
# the 'arabic' configuration would otherwise half-do. The 'arabic' Snowball stemmer is not
# used at all: on normalised text it is inconsistent (it keeps "بطاقه" but cuts "بطاقتك" to
# "طاق", taking the ب for a preposition), and it is not in every PostgreSQL build. English
# guides get a second, stemmed pass ('english') so that "changing" finds "change"; weights
# rank title (A) above summary (B) above body (C).
POSTGRESQL_FORWARDS = [
    # Not django.contrib.postgres's TrigramExtension: its reverse runs PostgreSQL SQL on any
    # database, and drops the extension even if something else uses it. Going back leaves it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    ALTER TABLE guides_guidesearchdocument ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, title), 'A')
        || setweight(to_tsvector('simple'::regconfig, summary), 'B')
        || setweight(to_tsvector('simple'::regconfig, body), 'C')
        || CASE WHEN language = 'en' THEN
            setweight(to_tsvector('english'::regconfig, title), 'A')
            || setweight(to_tsvector('english'::regconfig, summary), 'B')
            || setweight(to_tsvector('english'::regconfig, body), 'C')
        ELSE ''::tsvector END
    ) STORED
    """,
    # search_guides: search_vector @@ tsquery.
    """
    CREATE INDEX guide_search_vector_idx ON guides_guidesearchdocument
    USING gin (search_vector)
    """,
    # search_guides: the misspelt/partial-word fallback, query <% (title || summary || body).
    """
    CREATE INDEX guide_search_trgm_idx ON guides_guidesearchdocument
    USING gin ((title || ' ' || summary || ' ' || body) gin_trgm_ops)
    """,
]
POSTGRESQL_BACKWARDS = [
    "DROP INDEX IF EXISTS guide_search_trgm_idx",
    "DROP INDEX IF EXISTS guide_search_vector_idx",
    "ALTER TABLE guides_guidesearchdocument DROP COLUMN IF EXISTS search_vector",
]

# rowid is the guide id. 'porter' stems English words (it leaves Arabic ones alone), the
# counterpart of the 'english' pass on PostgreSQL; diacritics are already gone (normalise).
SQLITE_FORWARDS = [
    """
    CREATE VIRTUAL TABLE guides_guidesearch_fts USING fts5(
        title, summary, body, tokenize = 'porter unicode61 remove_diacritics 0'
    )
    """,
]
SQLITE_BACKWARDS = ["DROP TABLE IF EXISTS guides_guidesearch_fts"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


def _index_existing_guides(apps, schema_editor):
    """Index the guides published before this migration, as guide_search_index_update would.

    Historical models, so that this still runs once the models have moved on; normalise is
    the one piece of the search module used, and it only transforms text.
    """
    from guides.search import normalise

    Guide = apps.get_model("guides", "Guide")
    GuideSearchDocument = apps.get_model("guides", "GuideSearchDocument")
    guides = (
        Guide.objects.using(schema_editor.connection.alias)
        .filter(status="published")
        .select_related("company")
        .prefetch_related("tags", "steps")
    )
    documents = []
    for guide in guides.iterator(chunk_size=200):
        steps = sorted(guide.steps.all(), key=lambda step: step.position)
        body_parts = [f"{step.title}\n{step.body}" for step in steps]
        body_parts += [tag.slug for tag in guide.tags.all()]
        body_parts.append(guide.company.name)
        documents.append(
            GuideSearchDocument(
                guide_id=guide.pk,
                company_id=guide.company_id,
                language=guide.language,
                title=normalise(guide.title),
                summary=normalise(guide.summary),
                body=normalise("\n".join(body_parts)),
            )
        )
    GuideSearchDocument.objects.using(schema_editor.connection.alias).bulk_create(
        documents, batch_size=200
    )
    if schema_editor.connection.vendor == "sqlite":
        with schema_editor.connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO guides_guidesearch_fts (rowid, title, summary, body)"
                " VALUES (%s, %s, %s, %s)",
                [(doc.guide_id, doc.title, doc.summary, doc.body) for doc in documents],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("guides", "0002_attempts"),
    ]

    operations = [
        migrations.CreateModel(
            name="GuideSearchDocument",
            fields=[
                (
                    "guide",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_document",
                        serialize=False,
                        to="guides.guide",
                    ),
                ),
                (
                    "language",
                    models.CharField(choices=[("ar", "Arabic"), ("en", "English")], max_length=8),
                ),
                ("title", models.TextField()),
                ("summary", models.TextField(blank=True)),
                ("body", models.TextField(blank=True)),
                (
                    "company",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="guides.company",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("language__in", ["ar", "en"])),
                        name="guide_search_language_known",
                    )
                ],
            },
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL_FORWARDS, "sqlite": SQLITE_FORWARDS}),
            _run({"postgresql": POSTGRESQL_BACKWARDS, "sqlite": SQLITE_BACKWARDS}),
        ),
        migrations.RunPython(_index_existing_guides, migrations.RunPython.noop),
    ]
