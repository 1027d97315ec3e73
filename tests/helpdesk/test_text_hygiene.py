"""Text people type is stored without bidi override/isolate controls, names stay on one line,
pages isolate user text, and the guide importer says what it assumed.

"gnp.exe" written after U+202E (RIGHT-TO-LEFT OVERRIDE) displays as "exe.png": Mallory tries
it in every field she can reach. Nour writes in Arabic with an RLM mark, which must survive.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from guides.models import Attempt, Guide, Step, StepOutcome
from tests.factories import TicketFactory
from tickets import notifications, services
from tickets.models import Ticket, TicketEvent

RLO, PDF, RLI, PDI = "\u202e", "\u202c", "\u2067", "\u2069"
SPOOF = f"photo{RLO}gnp.exe{PDF}"  # displays as "photoexe.png"
CLEAN = "photognp.exe"
ARABIC_WITH_RLM = "بطاقتي مرفوضة\u200f (Visa)"


# --- the shared cleaning ------------------------------------------------------------------------


def test_it_drops_every_bidi_override_and_isolate_control_and_keeps_arabic_and_marks():
    from helpdesk.text import one_line, plain_text

    controls = "".join(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
    assert plain_text(f"a{controls}b") == "ab"
    assert plain_text(SPOOF) == CLEAN
    assert plain_text(ARABIC_WITH_RLM) == ARABIC_WITH_RLM
    assert plain_text("line one\nline two") == "line one\nline two"
    assert one_line(f" Sam\r\nBcc: x@example.com\t{RLI}Ali{PDI}\x00 ") == (
        "Sam Bcc: x@example.com Ali"
    )


# --- every way in -------------------------------------------------------------------------------


@pytest.fixture
def api():
    return APIClient()


def test_the_api_stores_a_note_a_description_and_a_name_without_bidi_controls(
    api, guide_with_steps
):
    started = api.post(f"/api/v1/guides/{guide_with_steps.pk}/attempts/")
    api.credentials(HTTP_X_ATTEMPT_TOKEN=started.json()["token"])
    step = guide_with_steps.steps.order_by("position").first()

    outcome = api.post(
        "/api/v1/attempt/outcomes/",
        {"step": step.pk, "outcome": "did_not_work", "note": f"It says {SPOOF}"},
        format="json",
    )
    contact = api.post(
        "/api/v1/attempt/contact/",
        {"description": f"Open {SPOOF}", "name": f"{RLI}Mallory{PDI}", "email": "m@example.com"},
        format="json",
    )

    assert (outcome.status_code, contact.status_code) == (201, 202), contact.content
    assert StepOutcome.objects.get().note == f"It says {CLEAN}"
    attempt = Attempt.objects.get()
    assert (attempt.description, attempt.contact_name) == (f"Open {CLEAN}", "Mallory")


def test_a_description_of_bidi_controls_alone_is_refused_not_stored(api, guide_with_steps):
    started = api.post(f"/api/v1/guides/{guide_with_steps.pk}/attempts/")
    api.credentials(HTTP_X_ATTEMPT_TOKEN=started.json()["token"])

    response = api.post(
        "/api/v1/attempt/contact/",
        {"description": f"{RLO}{PDF} ", "email": "m@example.com"},
        format="json",
    )

    assert response.status_code == 400
    assert "description" in response.json()["errors"]
    assert Attempt.objects.get().status == Attempt.Status.IN_PROGRESS


def test_the_web_contact_form_stores_the_name_on_one_line_and_the_email_keeps_it_there(
    client, db, mailoutbox
):
    response = client.post(
        reverse("tickets:contact"),
        {
            "description": f"My file {SPOOF} will not open",
            "name": f"Sam\r\nBcc: victim@example.com{RLO}",
            "email": "sam@example.com",
            "action": "send",
        },
    )

    assert response.status_code == 303  # post/redirect/get
    attempt = Attempt.objects.get()
    assert attempt.contact_name == "Sam Bcc: victim@example.com"
    assert attempt.description == f"My file {CLEAN} will not open"

    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)
    assert ticket.requester_name == "Sam Bcc: victim@example.com"
    assert notifications.customer_ticket_created_send(ticket_id=ticket.pk) is True
    message = mailoutbox[0]
    greeting = message.body.splitlines()[0]
    assert greeting == "Hello Sam Bcc: victim@example.com,"
    assert "\nBcc:" not in message.body
    html = message.alternatives[0][0]
    assert 'Hello <bdi dir="auto">Sam Bcc: victim@example.com</bdi>,' in html
    assert f'“<bdi dir="auto">My file {CLEAN} will not open</bdi>”' in html


def test_an_email_keeps_a_name_stored_before_the_rule_on_one_line(db, mailoutbox):
    ticket = TicketFactory(language="en")
    # As a row written before names were kept on one line: raw SQL, past every field.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Ticket._meta.db_table} SET requester_name = %s, subject = %s WHERE id = %s",
            ["Sam\nX-Evil: 1", "Card\nrefused", ticket.pk],
        )

    notifications.customer_ticket_created_send(ticket_id=ticket.pk)

    body = mailoutbox[0].body
    assert body.splitlines()[0] == "Hello Sam X-Evil: 1,"
    assert "“Card refused”" in body


def test_the_guide_contact_form_refuses_a_description_of_bidi_controls_alone(
    client, guide_with_steps
):
    guide = guide_with_steps
    url = reverse(
        "guides:contact",
        kwargs={"company": guide.company.slug, "language": guide.language, "slug": guide.slug},
    )

    response = client.post(url, {"description": f"{RLO} {PDF}", "email": "m@example.com"})

    assert response.status_code == 200
    assert response.context["form"].errors["description"]
    assert not Attempt.objects.exists()


def test_the_admin_stores_titles_without_bidi_controls_and_keeps_markdown_as_written(
    admin_client, guide_with_steps
):
    guide = guide_with_steps
    steps = list(guide.steps.order_by("position"))
    summary = f"{ARABIC_WITH_RLM}\n\nAn author's {RLO}override{PDF} in Markdown stays."
    data = {
        "company": guide.company_id,
        "title": f"Why does {SPOOF} not open?",
        "slug": guide.slug,
        "language": guide.language,
        "status": guide.status,
        "translation_key": guide.translation_key,
        "summary": summary,
        "steps-TOTAL_FORMS": len(steps),
        "steps-INITIAL_FORMS": len(steps),
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
    }
    for index, step in enumerate(steps):
        title = f"Rename {SPOOF}" if index == 0 else step.title
        for key, value in {
            "id": step.pk, "position": step.position, "kind": step.kind, "title": title,
            "body": step.body, "guide": guide.pk,
        }.items():  # fmt: skip
            data[f"steps-{index}-{key}"] = value

    response = admin_client.post(reverse("admin:guides_guide_change", args=[guide.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    guide.refresh_from_db()
    assert guide.title == f"Why does {CLEAN} not open?"
    assert guide.summary == summary
    assert Step.objects.get(pk=steps[0].pk).title == f"Rename {CLEAN}"


def test_an_agents_reply_and_a_queryset_update_are_cleaned_too(admin_user, db):
    ticket = TicketFactory()

    event = services.ticket_reply(ticket=ticket, actor=admin_user, body=f"Rename {SPOOF}")
    Ticket.objects.filter(pk=ticket.pk).update(subject=f"About {SPOOF}\nagain")

    assert TicketEvent.objects.get(pk=event.pk).body == f"Rename {CLEAN}"
    assert Ticket.objects.get(pk=ticket.pk).subject == f"About {CLEAN} again"


# --- output: user text isolated -----------------------------------------------------------------


def test_the_workspace_isolates_the_customers_name_in_the_thread(admin_client, db):
    ticket = TicketFactory(requester_name="نور")
    services.ticket_customer_reply(ticket=ticket, body="Any news?")

    page = admin_client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk]))

    html = page.content.decode()
    meta = html[html.index('class="event event-customer') :]
    assert '<strong><bdi dir="auto">نور</bdi></strong>' in meta


@pytest.mark.parametrize(
    "path", [lambda guide: reverse("tickets:contact"), lambda guide: _guide_contact(guide)]
)
def test_the_contact_forms_type_and_show_text_in_its_own_direction(client, guide_with_steps, path):
    html = client.get(path(guide_with_steps)).content.decode()

    assert 'name="name"' in html
    name_input = html[html.index("<input", html.index('name="name"') - 200) :]
    assert 'dir="auto"' in name_input[: name_input.index(">")]
    description = html[html.index('<textarea name="description"') :]
    assert 'dir="auto"' in description[: description.index(">")]


def _guide_contact(guide: Guide) -> str:
    return reverse(
        "guides:contact",
        kwargs={"company": guide.company.slug, "language": guide.language, "slug": guide.slug},
    )


# --- the guide importer -------------------------------------------------------------------------


def guide_file(folder: Path, **changes) -> Path:
    data = {
        "company": {"slug": "nile-telecom", "name": "Nile Telecom"},
        "slug": "no-mobile-data",
        "language": "en",
        "translation_key": "no-mobile-data",
        "status": "published",
        "title": "Mobile data stopped working",
        "steps": [
            {"kind": "procedure", "title": "Check the APN"},
            {"kind": "alternative", "title": "Restart the phone"},
            {"kind": "last_resort", "title": "Swap the SIM"},
        ],
        **changes,
    }
    data = {key: value for key, value in data.items() if value is not None}
    path = folder / "guide.en.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_import_says_a_file_without_status_became_a_draft(tmp_path, db):
    path = guide_file(tmp_path, status=None)
    out = StringIO()

    call_command("import_guides", str(path), stdout=out, verbosity=1)

    assert Guide.objects.get().status == Guide.Status.DRAFT
    output = out.getvalue()
    assert f"{path}: status: not in the file, so the guide is a draft" in output
    assert "(1 draft without a status in the file)" in output


def test_import_numbers_steps_without_positions_in_list_order(tmp_path, db):
    call_command("import_guides", str(guide_file(tmp_path)), stdout=StringIO())

    assert list(Step.objects.order_by("position").values_list("position", "title")) == [
        (1, "Check the APN"),
        (2, "Restart the phone"),
        (3, "Swap the SIM"),
    ]
    # Idempotent: the same file again changes nothing.
    out = StringIO()
    call_command("import_guides", str(guide_file(tmp_path)), stdout=out)
    assert "1 unchanged" in out.getvalue()


def test_import_refuses_some_positions_given_and_some_missing_naming_file_and_field(tmp_path, db):
    path = guide_file(
        tmp_path,
        steps=[
            {"position": 2, "kind": "procedure", "title": "Check the APN"},
            {"kind": "alternative", "title": "Restart the phone"},
        ],
    )
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_guides", str(path), stdout=StringIO(), stderr=err)

    assert f"{path}: steps[1].position: missing, while steps[0] has one" in err.getvalue()
    assert not Guide.objects.exists()


def test_import_stores_a_spoofed_title_clean_and_reimports_it_unchanged(tmp_path, db):
    path = guide_file(tmp_path, title=f"Cannot open {SPOOF}")
    call_command("import_guides", str(path), stdout=StringIO())
    out = StringIO()
    call_command("import_guides", str(path), stdout=out)

    assert Guide.objects.get().title == f"Cannot open {CLEAN}"
    assert "1 unchanged" in out.getvalue()


# --- rows stored before -------------------------------------------------------------------------


def test_the_data_migrations_clean_rows_stored_before_the_rule(db):
    from importlib import import_module

    from django.apps import apps

    ticket = TicketFactory()
    table = Ticket._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET subject = %s, requester_name = %s, description = %s WHERE id = %s",
            [f"Card\nrefused {SPOOF}", "Sam\r\nBcc: x", f"Open {SPOOF}\nplease", ticket.pk],
        )
        cursor.execute(
            f"UPDATE {Guide._meta.db_table} SET title = %s WHERE id = %s",
            [f"{RLO}{PDF}", ticket.guide_id],  # would be empty: left as it is
        )

    import_module("tickets.migrations.0011_plain_text_cleanup").clean(apps, None)
    import_module("guides.migrations.0009_plain_text_cleanup").clean(apps, None)

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT subject, requester_name, description FROM {table} WHERE id = %s", [ticket.pk]
        )
        assert cursor.fetchone() == (f"Card refused {CLEAN}", "Sam Bcc: x", f"Open {CLEAN}\nplease")
        cursor.execute(f"SELECT title FROM {Guide._meta.db_table} WHERE id = %s", [ticket.guide_id])
        assert cursor.fetchone() == (f"{RLO}{PDF}",)
