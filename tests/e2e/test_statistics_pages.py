"""An author reads her guide's statistics in a real browser, in Arabic: the funnel, a step's
success with its interval, and what customers wrote when the step failed; then she accepts
the step an agent proposed from a solved ticket, which starts the guide's next version."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from guides import services as guide_services
from guides.models import Attempt, Guide, Step
from tests.factories import (
    AttemptFactory,
    GuideVersionFactory,
    StepOutcomeFactory,
    TicketFactory,
    staff_user,
)
from tickets import roles, services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
NOTE = "تظهر رسالة: تعذّرت معالجة البطاقة"


@pytest.fixture
def spotify_ar(transactional_db) -> Guide:
    """The Arabic Spotify guide with a week of customers: three resolved at the first
    alternative after the procedure failed (one wrote what they saw), one escalated."""
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)
    guide = Guide.objects.get(company__slug="spotify", language="ar")
    version = guide.versions.order_by("-number").first() or GuideVersionFactory(guide=guide)
    steps = list(guide.steps.order_by("position"))
    procedure = next(step for step in steps if step.kind == Step.Kind.PROCEDURE)
    alternative = next(step for step in steps if step.kind == Step.Kind.ALTERNATIVE)
    started = timezone.now() - datetime.timedelta(days=1)
    for index in range(4):
        resolved = index < 3
        attempt = AttemptFactory(
            guide=guide, language="ar", guide_version=version,
            step_order=[step.pk for step in steps], started_at=started, updated_at=started,
            status=Attempt.Status.RESOLVED if resolved else Attempt.Status.ESCALATED,
            finished_at=started + datetime.timedelta(minutes=5),
            escalation_requested_at=None if resolved else started,
            description="" if resolved else "ما زالت المشكلة قائمة",
        )  # fmt: skip
        StepOutcomeFactory(
            attempt=attempt, step=procedure, outcome="did_not_work",
            note=NOTE if index == 0 else "", recorded_at=started + datetime.timedelta(seconds=40),
        )  # fmt: skip
        StepOutcomeFactory(
            attempt=attempt, step=alternative, outcome="worked" if resolved else "did_not_work",
            recorded_at=started + datetime.timedelta(seconds=120),
        )  # fmt: skip
    services.statistics_rollup()
    # The escalated customer's ticket was solved by a fix the guide lacks; the agent proposed it.
    solved = TicketFactory(attempt=attempt, status="solved", solved_at=timezone.now())
    guide_services.step_proposal_submit(
        guide=guide, language="ar", title="أوقف الشبكة الافتراضية الخاصة ثم ادفع من جديد",
        body="افتح **الإعدادات** وأوقف الشبكة الافتراضية الخاصة.", ticket_id=solved.pk,
        ticket_reference=solved.reference,
    )  # fmt: skip
    return guide


def test_an_author_reads_the_funnel_and_a_steps_failure_notes_in_arabic(
    page, live_server, spotify_ar, pytestconfig
):
    ayla = staff_user("ayla", roles.AUTHOR)
    ayla.set_password(PASSWORD)
    ayla.save(update_fields=["password"])
    spotify_ar.company.authors.add(ayla)
    page.context.add_cookies([{"name": "django_language", "value": "ar", "url": live_server.url}])

    page.goto(f"{live_server.url}/admin/")
    page.locator("#id_username").fill("ayla")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.goto(f"{live_server.url}/admin/guides/guide/")
    page.get_by_role("link", name="الإحصاءات").click()
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    # Three resolved, one escalated: 75 %.
    assert page.locator(".deflection-total").inner_text().strip() in ("75 %", "٧٥ %")

    page.locator(f".guide-{spotify_ar.pk} a").click()
    page.wait_for_load_state()
    funnel = page.locator(".funnel-stages").inner_text()
    assert "المحاولات" in funnel and "4" in funnel
    chart = page.locator(".funnel svg.chart")
    assert chart.get_attribute("role") == "img"
    # The funnel's bars grow from the right in Arabic: the widest bar ends at the right edge.
    box = page.locator(".funnel svg.chart rect.bar").first.bounding_box()
    svg_box = chart.bounding_box()
    assert box is not None and svg_box is not None
    assert box["x"] + box["width"] > svg_box["x"] + svg_box["width"] * 0.6

    procedure_row = page.locator(".step-figures tbody tr").first
    cells = procedure_row.locator("td")
    assert cells.nth(1).inner_text() == "4"  # tried
    assert cells.nth(2).inner_text() == "0"  # worked
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    shots = Path(pytestconfig.getoption("--output")) / "e2e"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "guide-statistics-ar.png"), full_page=True)

    procedure_row.get_by_role("link", name="اقرأ").click()
    page.wait_for_load_state()
    notes = page.locator(".failure-note-text")
    assert notes.count() == 1
    assert notes.first.inner_text() == NOTE
    page.screenshot(path=str(shots / "failure-notes-ar.png"), full_page=True)

    # The fix an agent proposed, on the guide's page: she accepts it.
    versions_before = spotify_ar.versions.count()
    page.goto(f"{live_server.url}/admin/guides/guide/{spotify_ar.pk}/change/")
    proposal = page.locator(".step-proposal")
    assert "أوقف الشبكة الافتراضية" in proposal.inner_text()
    proposal.locator("button[value=accept]").click()
    page.wait_for_load_state()
    page.screenshot(path=str(shots / "proposal-accepted-ar.png"), full_page=True)
    added = spotify_ar.steps.get(title="أوقف الشبكة الافتراضية الخاصة ثم ادفع من جديد")
    assert added.kind == Step.Kind.ALTERNATIVE
    latest = spotify_ar.versions.order_by("-number").first()
    assert spotify_ar.versions.count() == versions_before + 1
    assert added.pk in [item["step"] for item in latest.steps]
