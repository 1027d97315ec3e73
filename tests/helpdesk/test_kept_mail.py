"""On the embedded default (`make run`) e-mails are kept in var/mail/ as files and announced by
one readable log line each, in the web process and in the worker alike (helpdesk.mail)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from django.core.mail import EmailMultiAlternatives

from helpdesk.env import email_settings_from_url
from helpdesk.mail import FolderEmailBackend, kept_mail, kept_mails
from tests.factories import TicketFactory
from tests.processes import (
    configured_broker_env,
    manage,
    process_env,
    running,
    test_database_url,
    wait_for,
    worker_args,
    worker_ready,
)

ARABIC_SUBJECT = "الطلب T-0042: سيرد عليك شخص"
STATUS_LINK = "http://127.0.0.1:8123/tickets/T-0042/5f1c0a/"


def send(folder: Path, *, to: str, subject: str, text: str, html: str | None = None) -> None:
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email="Helpdesk <helpdesk@localhost>", to=[to],
        connection=FolderEmailBackend(file_path=str(folder)),
    )  # fmt: skip
    if html is not None:
        message.attach_alternative(html, "text/html")
    assert message.send() == 1


def test_it_keeps_the_message_and_a_readable_text_and_logs_one_line(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="helpdesk.mail")
    text = f"مرحبًا سارة،\n\nتابع طلبك من هنا:\n{STATUS_LINK}\n\nhttps://example.com/second"

    send(tmp_path, to="sara@example.com", subject=ARABIC_SUBJECT, text=text, html="<p>x</p>")

    (eml,) = tmp_path.glob("*.eml")
    (txt,) = tmp_path.glob("*.txt")
    assert txt.stem == eml.stem
    readable = txt.read_text()
    assert f"Subject: {ARABIC_SUBJECT}" in readable  # decoded, not =?utf-8?b?…?=
    assert "To: sara@example.com" in readable
    assert text in readable
    assert b"=?utf-8?" in eml.read_bytes()  # the .eml is the message as it would go out
    (record,) = [r for r in caplog.records if r.name == "helpdesk.mail"]
    assert record.levelno == logging.INFO
    line = record.getMessage()
    assert "\n" not in line
    assert line.startswith(f"E-mail to sara@example.com: {ARABIC_SUBJECT} | {STATUS_LINK} ")
    assert eml.name in line


def test_it_lists_the_kept_mails_newest_first_with_decoded_subjects(tmp_path):
    send(tmp_path, to="first@example.com", subject="The first one", text="One.")
    time.sleep(0.01)
    send(tmp_path, to="sara@example.com", subject=ARABIC_SUBJECT, text=STATUS_LINK, html="<b>Hi")

    newest, oldest = kept_mails(tmp_path)

    assert (newest.to, newest.subject) == ("sara@example.com", ARABIC_SUBJECT)
    assert (oldest.to, oldest.subject) == ("first@example.com", "The first one")
    assert newest.sent_at is not None and oldest.sent_at is not None
    assert newest.sent_at >= oldest.sent_at
    one = kept_mail(tmp_path, newest.name)
    assert one is not None
    assert (one.subject, one.first_link, one.html.strip()) == (ARABIC_SUBJECT, STATUS_LINK, "<b>Hi")
    assert one.text.strip() == STATUS_LINK


def test_it_finds_nothing_outside_the_folder(tmp_path):
    folder = tmp_path / "mail"
    send(folder, to="sara@example.com", subject="Hello", text="Hi")
    (outside := tmp_path / "20260101-000000-000000-0123abcd.eml").write_bytes(
        (next(folder.glob("*.eml"))).read_bytes()
    )

    for name in (
        "../20260101-000000-000000-0123abcd.eml",
        "..%2F20260101-000000-000000-0123abcd.eml",
        outside.name,  # a valid name, but not in the folder
        str(outside),
        "",
        next(folder.glob("*.txt")).name,
    ):
        assert kept_mail(folder, name) is None, name
    assert kept_mails(tmp_path / "no-such-folder") == []


def test_the_folder_url_chooses_the_backend():
    assert email_settings_from_url("EMAIL_URL", "folder://") == {
        "EMAIL_BACKEND": "helpdesk.mail.FolderEmailBackend",
        "EMAIL_FILE_PATH": "",
    }
    assert email_settings_from_url("EMAIL_URL", "folder:///srv/mail")["EMAIL_FILE_PATH"] == (
        "/srv/mail"
    )


def settings_of(tmp_path: Path, **env: str) -> str:
    environment = process_env(tmp_path)
    environment.pop("EMAIL_URL", None)  # the default, unless the test sets one
    environment.update(env)
    result = manage(
        "shell", "-v", "0", "-c",
        "from django.conf import settings; "
        "print(settings.EMAIL_BACKEND, getattr(settings, 'EMAIL_FILE_PATH', '-'))",
        env=environment,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_keeps_mails_in_var_mail_and_production_is_unchanged(tmp_path):
    assert settings_of(tmp_path, DEBUG="true") == (
        f"helpdesk.mail.FolderEmailBackend {tmp_path / 'mail'}"
    )
    assert settings_of(
        tmp_path, DEBUG="false", SECRET_KEY="x" * 50, ALLOWED_HOSTS="help.example.com"
    ) == ("django.core.mail.backends.console.EmailBackend -")
    assert settings_of(tmp_path, DEBUG="true", EMAIL_URL="smtp://mail.example:25") == (
        "django.core.mail.backends.smtp.EmailBackend -"
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_logs_each_email_as_one_clean_info_line(tmp_path):
    """Not `WARNING celery.redirected` (what Django's console backend printing to stdout
    became in the worker), and the Arabic subject as Arabic."""
    from helpdesk.celery import task_send
    from tickets.tasks import notify_customer_ticket_created

    ticket = TicketFactory(language="ar", requester_email="sara@example.com")
    expected_subject = f"الطلب {ticket.reference}: سيردّ عليك موظف دعم"  # in her language
    mail_dir = tmp_path / "mail"
    log = tmp_path / "worker.log"
    env = process_env(
        tmp_path, DATABASE_URL=test_database_url(), EMAIL_URL=f"folder://{mail_dir}",
        SITE_URL="http://127.0.0.1:8123", **configured_broker_env(),
    )  # fmt: skip
    with running(worker_args(), env, log):
        worker_ready(log)
        assert task_send(notify_customer_ticket_created, ticket.pk)
        wait_for(
            lambda: "helpdesk.mail" in log.read_text(errors="replace"),
            timeout=60, what="the e-mail's line", log=log,
        )  # fmt: skip

    output = log.read_text()
    (line,) = [line for line in output.splitlines() if "helpdesk.mail" in line]
    assert " INFO helpdesk.mail: E-mail to sara@example.com: " in line
    assert expected_subject in line
    assert "| http://127.0.0.1:8123/" in line
    assert "celery.redirected" not in output
    assert len(list(mail_dir.glob("*.eml"))) == 1
