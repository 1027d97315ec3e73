"""The supervisor's overview of the desk: each queue's open work and each agent's load."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import QueueFactory, TicketFactory, agent_in, staff_user
from tests.helpers import CHANGELIST
from tickets import roles, selectors

OVERVIEW = reverse("admin:tickets_ticket_overview")


@pytest.fixture
def open_work(billing, returns, alice):
    """Billing's open work (and one closed ticket), Returns empty and assigned by claim, Alice
    at a capacity of two, in both languages."""
    returns.auto_assign = False
    returns.save(update_fields=["auto_assign"])
    alice.languages, alice.capacity = ["ar", "en"], 2
    alice.save(update_fields=["languages", "capacity"])
    now = timezone.now()
    TicketFactory(queue=billing, created_at=now - timedelta(hours=3))  # waiting longest
    TicketFactory(queue=billing, sla_breached=True, created_at=now - timedelta(minutes=30))
    TicketFactory(queue=billing, assignee=alice, status="open", sla_at_risk_at=now)
    TicketFactory(queue=billing, assignee=alice, status="pending", sla_paused_at=now)
    TicketFactory(queue=billing, status="closed", sla_breached=True)  # history: not counted
    return billing, alice


def cells(html: str, row_class: str) -> list[str]:
    row = re.search(rf'<tr class="{row_class}">(.*?)</tr>', html, re.S)
    assert row, row_class
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(
        r"<t[hd][^>]*>(.*?)</t[hd]>", row.group(1), re.S
    )]  # fmt: skip


def test_the_supervisor_sees_each_queues_open_work_and_each_agents_load(client, open_work, sue):
    billing, alice = open_work
    client.force_login(sue)

    response = client.get(OVERVIEW)

    assert response.status_code == 200
    html = response.content.decode()
    # Queue, open, waiting, longest wait, breached, at risk, pending, assigns.
    assert cells(html, "queue-billing") == [
        "Billing", "4", "2", "3h 00m", "1", "1", "1", "automatically"
    ]  # fmt: skip
    assert cells(html, "queue-returns") == ["Returns", "0", "0", "—", "0", "0", "0", "by claim"]
    assert f'href="{CHANGELIST}?queue={billing.pk}"' in html
    alice_row = cells(html, f"agent-{alice.pk}")
    assert alice_row[:5] == ["Alice", "0", "2", "yes", "ar, en"]
    assert alice_row[5] == "Billing"


def test_the_list_links_to_it_for_supervisors_only(client, open_work, sue):
    _billing, alice = open_work
    client.force_login(sue)
    assert OVERVIEW in client.get(CHANGELIST).content.decode()

    client.force_login(alice.user)
    assert OVERVIEW not in client.get(CHANGELIST).content.decode()


@pytest.mark.parametrize("role", [roles.AGENT, roles.AUTHOR])
def test_agents_and_authors_may_not_open_it(client, open_work, role):
    client.force_login(staff_user(f"someone-{role.lower()}", role))
    assert client.get(OVERVIEW).status_code == 403


def test_it_reads_the_same_number_of_queries_however_many_tickets(client, open_work, sue):
    billing, alice = open_work
    client.force_login(sue)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(OVERVIEW).status_code == 200
        return len(captured)

    few = queries()
    TicketFactory.create_batch(30, queue=billing)
    agent_in(billing, QueueFactory(slug="shipping"), username="carol")
    assert queries() == few


def test_queue_loads_counts_only_open_tickets(open_work):
    loads = {load.queue.slug: load for load in selectors.queue_loads()}
    assert (loads["billing"].open, loads["billing"].waiting, loads["billing"].breached) == (4, 2, 1)
    assert loads["returns"].open == 0 and loads["returns"].oldest_waiting_since is None
