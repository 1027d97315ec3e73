from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from guides.models import Company, Guide, Step
from guides.services import guide_export_data

DEMO = Path("guides/demo_guides")


def snapshot() -> list[dict]:
    """Everything a guide file carries, read back from the database."""
    return [
        guide_export_data(guide=guide)
        for guide in Guide.objects.prefetch_related("tags", "steps").order_by(
            "company__slug", "slug", "language"
        )
    ]


def test_export_then_import_round_trips_losslessly(db, tmp_path):
    call_command("import_guides", str(DEMO))
    before = snapshot()
    step_ids = set(Step.objects.values_list("pk", flat=True))
    assert len(before) == len(list(DEMO.glob("*.yaml")))

    call_command("export_guides", str(tmp_path / "out"))
    Step.objects.all().delete()
    Guide.objects.all().delete()
    Company.objects.all().delete()
    call_command("import_guides", str(tmp_path / "out"))

    assert snapshot() == before
    assert not step_ids & set(Step.objects.values_list("pk", flat=True))  # really re-created


def test_re_importing_an_export_over_the_same_data_changes_nothing(db, tmp_path, capsys):
    call_command("import_guides", str(DEMO))
    call_command("export_guides", str(tmp_path))
    capsys.readouterr()

    call_command("import_guides", str(tmp_path))

    count = Guide.objects.count()
    assert count == len(list(tmp_path.glob("*.yaml")))
    expected = f"{count} guide files: 0 created, 0 updated, {count} unchanged, 0 failed"
    assert expected in capsys.readouterr().out


def test_it_exports_one_company_in_one_language(db, tmp_path):
    call_command("import_guides", str(DEMO))

    call_command("export_guides", str(tmp_path), company="spotify", language="ar")

    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == ["spotify--cant-change-payment-card.ar.yaml"]
    text = (tmp_path / files[0]).read_text(encoding="utf-8")
    assert "language: ar" in text
    assert "PayPal" in text


def test_it_refuses_an_unknown_company(db, tmp_path):
    with pytest.raises(CommandError, match="--company: no company with slug 'nope'"):
        call_command("export_guides", str(tmp_path), company="nope")
