"""Every page of the admin opens, for the supervisor, in both languages: the list, the add
form and the change form of each model, on the demo data. A template error, a deprecation
warning (an error in tests) or a broken translation shows here as a 500."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse

from guides.models import Guide
from tickets.models import Ticket


@pytest.fixture
def supervisor(db, settings):
    settings.DEBUG = True  # load_demo refuses to run otherwise (its passwords are public)
    call_command("load_demo", "--tickets", verbosity=0)
    settings.DEBUG = False
    return get_user_model().objects.get(username="supervisor")


def admin_pages(user) -> list[str]:
    request = RequestFactory().get("/admin/")
    request.user = user
    pages = []
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda i: str(i[0])):
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(request):
            pages.append(reverse(f"{name}_add"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            pages.append(reverse(f"{name}_change", args=[first.pk]))
    return pages


@pytest.mark.parametrize("language", ["en", "ar"])
def test_every_admin_page_opens(client, supervisor, language):
    client.force_login(supervisor)
    pages = admin_pages(supervisor)

    failed = [
        (page, status)
        for page in pages
        if (status := client.get(page, HTTP_ACCEPT_LANGUAGE=language).status_code) != 200
    ]

    assert failed == []
    # The demo data reaches the models people work with: their change pages were opened.
    for model in (Ticket, Guide):
        first = model.objects.order_by("pk").first()
        assert first is not None
        assert (
            reverse(f"admin:{model._meta.label_lower.replace('.', '_')}_change", args=[first.pk])
            in pages
        )
