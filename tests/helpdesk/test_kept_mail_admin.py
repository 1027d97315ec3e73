"""Staff read the e-mails kept on the embedded default at /admin/mail/: newest first, each with
its text and its HTML in a sandboxed frame that runs no script and loads nothing. Nobody else
sees them, no name reaches outside the folder, and with a real mail backend it is all a 404."""

from __future__ import annotations

import time

import pytest
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from helpdesk.mail import FolderEmailBackend, kept_mails
from tests.factories import UserFactory

ARABIC_SUBJECT = "الطلب T-0042: سيردّ عليك موظف دعم"
HOSTILE_HTML = '<p style="color: teal">Hello</p><script>parent.document.title = "owned"</script>'


@pytest.fixture
def kept(settings, tmp_path):
    """Two kept e-mails, the Arabic one last."""
    settings.EMAIL_BACKEND = "helpdesk.mail.FolderEmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    for to, subject, html in [
        ("first@example.com", "The first one", None),
        ("sara@example.com", ARABIC_SUBJECT, HOSTILE_HTML),
    ]:
        message = EmailMultiAlternatives(
            subject=subject, body="Follow it here: http://127.0.0.1:8123/tickets/T-0042/x/",
            to=[to], connection=FolderEmailBackend(),
        )  # fmt: skip
        if html:
            message.attach_alternative(html, "text/html")
        message.send()
        time.sleep(0.01)
    return kept_mails(tmp_path / "mail")


def test_staff_see_the_newest_first_with_the_subjects_decoded(kept, sue, client):
    client.force_login(sue)

    page = client.get(reverse("admin_mail")).content.decode()

    assert page.index(ARABIC_SUBJECT) < page.index("The first one")
    assert "=?utf-8?" not in page
    assert reverse("admin_mail_detail", args=[kept[0].name]) in page


def test_one_email_shows_its_text_and_its_html_in_a_sandboxed_frame(kept, sue, client):
    client.force_login(sue)
    arabic = kept[0]

    page = client.get(reverse("admin_mail_detail", args=[arabic.name])).content.decode()
    html = client.get(reverse("admin_mail_html", args=[arabic.name]))

    assert ARABIC_SUBJECT in page
    assert "http://127.0.0.1:8123/tickets/T-0042/x/" in page
    frame = f'sandbox="" src="{reverse("admin_mail_html", args=[arabic.name])}"'
    assert f'<iframe class="kept-mail-html" {frame}' in page
    assert "<script>" not in page  # the e-mail's HTML is only ever in the frame
    policy = html["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "script-src" not in policy
    assert html["X-Frame-Options"] == "SAMEORIGIN"
    assert html.content.decode().strip() == HOSTILE_HTML


def test_an_email_without_html_has_no_frame(kept, sue, client):
    client.force_login(sue)
    plain = kept[1]

    page = client.get(reverse("admin_mail_detail", args=[plain.name])).content.decode()

    assert "<iframe" not in page
    assert client.get(reverse("admin_mail_html", args=[plain.name])).status_code == 404


def test_names_outside_the_folder_are_not_found(kept, sue, client, tmp_path):
    client.force_login(sue)
    (tmp_path / "20260101-000000-000000-0123abcd.eml").write_text("Subject: outside\n\nx")

    for name in [
        "..%2F20260101-000000-000000-0123abcd.eml",
        "20260101-000000-000000-0123abcd.eml",
        kept[0].name.replace(".eml", ".txt"),
        "%2Fetc%2Fpasswd",
    ]:
        assert client.get(f"/admin/mail/{name}/").status_code == 404, name
        assert client.get(f"/admin/mail/{name}/html/").status_code == 404, name


def test_only_staff_get_in(kept, client, db):
    customer = UserFactory(username="customer")
    url = reverse("admin_mail_detail", args=[kept[0].name])

    assert client.get(url).status_code == 302  # to the admin's sign-in
    client.force_login(customer)
    assert client.get(url).status_code == 302
    assert client.get(reverse("admin_mail")).status_code == 302


def test_with_a_real_mail_backend_there_is_no_page(kept, settings, sue, client):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    client.force_login(sue)

    assert client.get(reverse("admin_mail")).status_code == 404
    assert client.get(reverse("admin_mail_detail", args=[kept[0].name])).status_code == 404


def test_the_admin_header_links_the_page_only_while_e_mails_are_kept(kept, settings, sue, client):
    client.force_login(sue)
    link = f'href="{reverse("admin_mail")}"'

    assert link in client.get(reverse("admin:site_index")).content.decode()

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert link not in client.get(reverse("admin:site_index")).content.decode()
