"""The client address per-address limits count against, directly and behind proxies."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from helpdesk.http import client_address
from tests.helpers import trust_proxies

PROXY = "10.0.0.5"  # our load balancer: every request arrives from it


def request_from(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        # Clients connect directly: a header they send is theirs to forge, never read.
        (0, None, PROXY),
        (0, "198.51.100.7", PROXY),
        # One proxy appends the address it got the request from.
        (1, "198.51.100.7", "198.51.100.7"),
        # A client that sends its own header cannot choose its address: only the entry our
        # proxy appended counts.
        (1, "203.0.113.1, 198.51.100.7", "198.51.100.7"),
        # A CDN, then our load balancer: the CDN's entry is the client.
        (2, "203.0.113.1, 198.51.100.7, 192.0.2.10", "198.51.100.7"),
        (2, "198.51.100.7", "198.51.100.7"),
        # A proxy set up but the header missing or empty: the connection's address.
        (1, None, PROXY),
        (1, " , ", PROXY),
    ],
)
def test_it_reads_the_address_our_own_proxies_wrote(settings, proxies, forwarded, expected):
    trust_proxies(settings, proxies)
    assert client_address(request_from(PROXY, forwarded)) == expected


def test_the_api_throttles_trust_as_many_proxies_as_the_setting_says(settings):
    # TRUSTED_PROXY_COUNT reaches DRF (whose default, None, would trust any header).
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT == 0
