"""The migration that gives every existing guide version 1 and links its attempts to it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("guides", "0012_alternatives_order_changes")]
AFTER = [("guides", "0013_guide_versions_backfill")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_each_guide_gets_version_one_and_its_attempts_link_to_it():
    apps = migrate(BEFORE)
    Company = apps.get_model("guides", "Company")
    Guide = apps.get_model("guides", "Guide")
    Step = apps.get_model("guides", "Step")
    Attempt = apps.get_model("guides", "Attempt")
    company = Company.objects.create(name="Spotify", slug="spotify")
    payment = Guide.objects.create(
        company=company, slug="card", language="en", translation_key="card", title="Card"
    )
    empty = Guide.objects.create(
        company=company, slug="empty", language="ar", translation_key="empty", title="فارغ"
    )
    # Positions do not follow the kinds: the order shown was by kind, then position.
    last = Step.objects.create(guide=payment, position=1, kind="last_resort", title="New account")
    paypal = Step.objects.create(guide=payment, position=2, kind="alternative", title="PayPal")
    card = Step.objects.create(guide=payment, position=3, kind="procedure", title="Card", body="b")
    private = Step.objects.create(guide=payment, position=4, kind="alternative", title="Private")
    attempts = [
        Attempt.objects.create(guide=payment, token_hash=f"{n}" * 64, language="en")
        for n in range(3)
    ]
    contact = Attempt.objects.create(guide=None, token_hash="c" * 64, language="en")

    apps = migrate(AFTER)

    GuideVersion = apps.get_model("guides", "GuideVersion")
    Attempt = apps.get_model("guides", "Attempt")
    version = GuideVersion.objects.get(guide_id=payment.pk)
    assert version.number == 1
    assert version.steps == [
        {"step": last.pk, "position": 1, "kind": "last_resort", "title": "New account", "body": ""},
        {"step": paypal.pk, "position": 2, "kind": "alternative", "title": "PayPal", "body": ""},
        {"step": card.pk, "position": 3, "kind": "procedure", "title": "Card", "body": "b"},
        {"step": private.pk, "position": 4, "kind": "alternative", "title": "Private", "body": ""},
    ]
    assert GuideVersion.objects.get(guide_id=empty.pk).steps == []
    for attempt in Attempt.objects.filter(pk__in=[a.pk for a in attempts]):
        assert attempt.guide_version_id == version.pk
        assert attempt.step_order == [card.pk, paypal.pk, private.pk, last.pk]
    contact = Attempt.objects.get(pk=contact.pk)
    assert (contact.guide_version_id, contact.step_order) == (None, [])

    # Reversing keeps the rows; migrating again adds no second version.
    migrate(BEFORE)
    apps = migrate(AFTER)
    assert apps.get_model("guides", "GuideVersion").objects.filter(guide_id=payment.pk).count() == 1
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
