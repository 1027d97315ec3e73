"""A fix goes back into its guide in a real browser, in Arabic: Karim solves Layla's ticket
with a reply he marks as the fix and edits into a step; Amira, who writes Spotify's guides,
reads the proposal on the guide's admin page and accepts it; customers then see the step."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from guides import services as guide_services
from guides.models import Guide, StepProposal
from tests.factories import agent_in, staff_user
from tickets import roles, services
from tickets.models import Queue

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
ARABIC = {"Accept-Language": "ar"}


def log_in(page, live_server, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_load_state()


def test_an_agents_fix_becomes_a_step_an_author_accepts_in_arabic(
    page, live_server, transactional_db, pytestconfig
):
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)
    queue = Queue.objects.create(name="Billing (Arabic)", slug="billing-ar", is_fallback=True)
    karim = agent_in(queue, username="karim", languages=["ar"], capacity=5)
    guide = Guide.objects.get(company__slug="spotify", language="ar")
    amira = staff_user("amira", roles.AUTHOR, first_name="Amira")
    guide.company.authors.add(amira)
    for user in (karim.user, amira):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    attempt, _token = guide_services.attempt_start(guide=guide)
    guide_services.attempt_contact_submit(
        attempt=attempt, description="ما زالت البطاقة مرفوضة", email="layla@example.com"
    )
    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)
    assert ticket is not None and ticket.assignee == karim
    shots = Path(pytestconfig.getoption("--output")) / "e2e"
    shots.mkdir(parents=True, exist_ok=True)
    page.set_extra_http_headers(ARABIC)

    # Karim answers, solves the ticket and marks his reply as the fix...
    log_in(page, live_server, "karim")
    page.goto(f"{live_server.url}/admin/tickets/ticket/{ticket.pk}/change/")
    page.locator(".reply-form textarea").fill(
        "مرحبًا ليلى،\nأوقفي الشبكة الافتراضية الخاصة ثم ادفعي من جديد\nالمصرف يرفض الدفع عبرها."
    )
    page.locator(".reply-form select").select_option("solved")
    page.locator("#id_is_fix").check()
    page.locator(".reply-form button[type=submit]").click()
    page.wait_for_load_state()

    # ...and edits the draft made from it into a step.
    title = page.locator("#id_title")
    assert title.input_value() == "أوقفي الشبكة الافتراضية الخاصة ثم ادفعي من جديد"
    title.fill("أوقف الشبكة الافتراضية الخاصة ثم ادفع من جديد")
    page.locator("#id_body").fill("1. افتح **الإعدادات**.\n2. أوقف الشبكة الافتراضية الخاصة.")
    page.screenshot(path=str(shots / "fix-proposal-agent.png"), full_page=True)
    page.locator(".fix-form input[type=submit]").click()
    page.wait_for_load_state()
    assert "اقتُرح الحل خطوةً في الدليل" in page.locator(".messagelist").inner_text()
    assert "أوقف الشبكة الافتراضية" in page.locator(".guide-fix").inner_text()
    page.screenshot(path=str(shots / "fix-proposal-ticket.png"))

    # Amira reads it on the guide's page, with its count, and accepts it.
    log_in(page, live_server, "amira")
    page.goto(f"{live_server.url}/admin/guides/guide/{guide.pk}/change/")
    proposal = page.locator(".step-proposal")
    assert proposal.get_attribute("dir") == "rtl"
    assert "تذاكر محلولة بهذا الحل: 1" in proposal.inner_text()
    assert proposal.locator(".proposal-preview strong").inner_text() == "الإعدادات"
    page.locator("#proposals").screenshot(path=str(shots / "fix-proposal-author.png"))
    proposal.locator("button[value=accept]").click()
    page.wait_for_load_state()

    assert "أُضيفت خطوةً" in page.locator(".messagelist").inner_text()
    assert StepProposal.objects.get().status == StepProposal.Status.ACCEPTED
    steps = list(guide.steps.order_by("position").values_list("title", "kind"))
    assert ("أوقف الشبكة الافتراضية الخاصة ثم ادفع من جديد", "alternative") in steps
    assert steps[-1][1] == "last_resort"
    page.goto(f"{live_server.url}{guide.public_path()}")
    assert "أوقف الشبكة الافتراضية الخاصة ثم ادفع من جديد" in page.content()
