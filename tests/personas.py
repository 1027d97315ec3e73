"""The suite's one cast of people, as fixtures (registered for every test by tests/conftest.py).

- Billing and Returns: two queues.
- Alice works Billing, Bob works Returns (he must never see Billing's tickets); both English.
- Karim works Billing in Arabic, Emma in English: the two languages' agents.
- Sue supervises every queue. Ann writes guides and sees no ticket at all.

``desk`` is the usual scene (both queues, Alice, Bob, Sue and Ann). A test that needs someone
else (a third agent, staff without a role) makes them in the test, with tests.factories.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import AbstractBaseUser

from tests.factories import QueueFactory, agent_in, staff_user
from tickets import roles
from tickets.models import AgentProfile, Queue


@pytest.fixture
def billing(db) -> Queue:
    return QueueFactory(name="Billing", slug="billing")


@pytest.fixture
def returns(db) -> Queue:
    return QueueFactory(name="Returns", slug="returns")


@pytest.fixture
def alice(billing) -> AgentProfile:
    """Agent of Billing, English."""
    return agent_in(billing, username="alice", languages=["en"])


@pytest.fixture
def bob(returns) -> AgentProfile:
    """Agent of Returns, English."""
    return agent_in(returns, username="bob", languages=["en"])


@pytest.fixture
def karim(billing) -> AgentProfile:
    """Agent of Billing who works in Arabic."""
    return agent_in(billing, username="karim", languages=["ar"])


@pytest.fixture
def emma(billing) -> AgentProfile:
    """Agent of Billing who works in English."""
    return agent_in(billing, username="emma", languages=["en"])


@pytest.fixture
def sue(db) -> AbstractBaseUser:
    """The supervisor: every queue, reassigns and moves tickets, no agent profile."""
    return staff_user("sue", roles.SUPERVISOR, first_name="Sue")


@pytest.fixture
def ann(db) -> AbstractBaseUser:
    """An author: guides only, no ticket."""
    return staff_user("ann", roles.AUTHOR, first_name="Ann")


@dataclass
class Desk:
    billing: Queue
    returns: Queue
    alice: AgentProfile
    bob: AgentProfile
    sue: AbstractBaseUser
    ann: AbstractBaseUser


@pytest.fixture
def desk(billing, returns, alice, bob, sue, ann) -> Desk:
    return Desk(billing=billing, returns=returns, alice=alice, bob=bob, sue=sue, ann=ann)
