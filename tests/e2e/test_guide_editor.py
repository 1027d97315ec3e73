"""An author writes a guide in the admin's editor in a real browser, in Arabic: Amira, who
writes Spotify's guides, translates its English guide into Arabic from the English guide's
page (the English one beside her steps), types an Arabic title and sees the slug filled, adds
steps, moves one by keyboard, sees her Markdown previewed as she types, saves a draft and opens
its signed preview link on the public page. axe-core finds nothing serious on the editor in
either language; the screenshots (1366×900) are kept under the test output's e2e/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from guides.models import Guide
from tests.e2e.page_checks import DESKTOP, axe_serious_violations, page_checked, watch_console
from tests.factories import CompanyFactory, GuideFactory, StepFactory, staff_user
from tickets import roles

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
ARABIC_TITLE = "لا يمكن تسجيل الدخول إلى سبوتيفاي"
ARABIC_SLUG = "la-ymkn-tsjyl-aldkhwl-ila-sbwtyfay"


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_load_state()


def in_language(page, live_server, code: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": code, "url": live_server.url}])


def no_serious_violations(page, label: str, shots: Path) -> None:
    page.screenshot(path=str(shots / f"{label}.png"), full_page=True)
    violations = axe_serious_violations(page)
    assert violations == [], f"{label}: {violations}"


def test_an_author_writes_an_arabic_guide_and_previews_the_draft(page, live_server, pytestconfig):
    spotify = CompanyFactory(slug="spotify", name="Spotify")
    english = GuideFactory(
        company=spotify,
        language="en",
        slug="cant-log-in",
        translation_key="cant-log-in",
        title="I cannot log in to Spotify",
    )
    StepFactory(guide=english, position=1, title="Reset your password")
    StepFactory(guide=english, position=2, title="Sign out everywhere", kind="alternative")
    amira = staff_user("amira", roles.AUTHOR, first_name="Amira")
    amira.set_password(PASSWORD)
    amira.save(update_fields=["password"])
    spotify.authors.add(amira)
    shots = Path(pytestconfig.getoption("--output")) / "e2e"
    shots.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    problems = watch_console(page)

    in_language(page, live_server, "ar")
    log_in(page, live_server, "amira")
    page.goto(f"{live_server.url}/admin/guides/guide/{english.pk}/change/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    no_serious_violations(page, "guide-editor-change-ar", shots)

    # From the English guide: "translate into Arabic" opens a new guide, the English one beside.
    page.get_by_role("link", name="ترجمة إلى العربية").click()
    page.wait_for_load_state()
    assert page.locator("#id_translation_key").input_value() == "cant-log-in"
    source = page.locator("[data-translation-source] .translation-source")
    expect(source).to_contain_text("I cannot log in to Spotify")
    expect(source).to_contain_text("Sign out everywhere")

    # The slug follows the Arabic title, written in Latin letters.
    page.locator("#id_title").press_sequentially(ARABIC_TITLE, delay=5)
    expect(page.locator("#id_slug")).to_have_value(ARABIC_SLUG)

    # Three steps; the Markdown of the first is previewed beside it as it is typed.
    steps = page.locator("#steps-group .inline-related:not(.empty-form)")
    page.locator("#id_steps-0-title").fill("أعد تعيين كلمة المرور")
    page.locator("#id_steps-0-body").fill("1. افتح **الإعدادات**\n2. اختر `كلمة المرور`")
    preview = steps.nth(0).locator("[data-markdown-preview]")
    expect(preview.locator("strong")).to_have_text("الإعدادات")
    expect(preview.locator("code")).to_have_text("كلمة المرور")
    for index, title in [(1, "سجّل الخروج من كل الأجهزة"), (2, "تواصل مع الدعم")]:
        page.locator("#steps-group .add-row a").click()
        page.locator(f"#id_steps-{index}-title").fill(title)
    positions = page.locator("[data-step-position]:visible")
    assert [positions.nth(i).input_value() for i in range(3)] == ["1", "2", "3"]

    # The third step moves to the top by keyboard, on its handle, and the move is announced.
    handle = page.locator("#steps-2 .step-handle")  # by its id: the row moves
    handle.focus()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(handle).to_be_focused()
    expect(page.locator("[data-editor-announce]")).to_contain_text("تواصل مع الدعم")
    assert page.locator("#id_steps-2-position").input_value() == "1"
    assert page.locator("#id_steps-0-position").input_value() == "2"
    # ...and the last one is dragged by its handle above the second, and back below it.
    page.locator("#steps-1 .step-handle").drag_to(
        page.locator("#steps-0 h3"), target_position={"x": 10, "y": 2}
    )
    assert page.locator("#id_steps-1-position").input_value() == "2"
    assert page.locator("#id_steps-0-position").input_value() == "3"
    page.locator("#steps-1 .step-handle").drag_to(
        page.locator("#steps-0 .field-body"), target_position={"x": 10, "y": 40}
    )
    assert page.locator("#id_steps-0-position").input_value() == "2"
    assert page.locator("#id_steps-1-position").input_value() == "3"
    no_serious_violations(page, "guide-editor-add-ar", shots)
    page.locator(".guide-editor-columns").screenshot(path=str(shots / "guide-editor-steps-ar.png"))

    page.locator("input[name=_continue]").click()
    page.wait_for_load_state()
    arabic = Guide.objects.get(language="ar")
    assert arabic.slug == ARABIC_SLUG
    assert arabic.translation_key == "cant-log-in"
    assert arabic.status == Guide.Status.DRAFT
    assert list(arabic.steps.order_by("position").values_list("position", "title")) == [
        (1, "تواصل مع الدعم"),
        (2, "أعد تعيين كلمة المرور"),
        (3, "سجّل الخروج من كل الأجهزة"),
    ]
    page.screenshot(path=str(shots / "guide-editor-saved-ar.png"), full_page=True)

    # A customer cannot see the draft; Amira's preview link shows it on the real page.
    anonymous = page.context.browser.new_page()
    assert anonymous.goto(f"{live_server.url}{arabic.public_path()}").status == 404
    anonymous.close()
    page.get_by_role("link", name="معاينة في الموقع").click()
    page.wait_for_load_state()
    assert "?preview=" in page.url
    expect(page.locator(".banner-preview")).to_contain_text("معاينة — غير منشور")
    expect(page.locator("h1")).to_have_text(ARABIC_TITLE)
    expect(page.locator(".step h3").first).to_contain_text("تواصل مع الدعم")
    page_checked(page, "guide-preview-ar")

    # Who changed what, and the versions of the steps, from the guide's page.
    page.goto(f"{live_server.url}/admin/guides/guide/{arabic.pk}/change/")
    page.get_by_role("link", name="تاريخ").click()
    page.wait_for_load_state()
    expect(page.locator("#change-history")).to_contain_text("amira")
    expect(page.locator("#versions")).to_contain_text("تواصل مع الدعم")
    no_serious_violations(page, "guide-history-ar", shots)

    # The editor in English: the same checks.
    in_language(page, live_server, "en")
    page.goto(f"{live_server.url}/admin/guides/guide/{arabic.pk}/change/")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.locator(".translation-source")).to_contain_text("The guide in English")
    no_serious_violations(page, "guide-editor-change-en", shots)
    page.goto(f"{live_server.url}/admin/guides/guide/add/")
    page.locator("#id_title").press_sequentially("Can't log in!", delay=5)
    expect(page.locator("#id_slug")).to_have_value("cant-log-in")
    no_serious_violations(page, "guide-editor-add-en", shots)
    # The admin's own select2 sets inline styles the CSP refuses, and the admin has no
    # favicon: neither is the editor's. Its script must raise nothing.
    own = [
        problem
        for problem in problems
        if not problem.startswith(("Applying inline style", "Failed to load resource"))
    ]
    assert own == [], own
