import pytest
from django.test import RequestFactory

from tokens_site.audit import client_ip


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", "", [], "203.0.113.9"),
        ("203.0.113.9", "198.51.100.1", [], "203.0.113.9"),  # no trusted proxy: ignore header
        ("10.0.0.2", "198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.2", "192.0.2.50, 198.51.100.1, 10.0.0.3", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.2", "garbage", ["10.0.0.0/8"], "10.0.0.2"),
        ("203.0.113.9", "198.51.100.1", ["10.0.0.0/8"], "203.0.113.9"),  # spoofed header
        ("not-an-ip", "", [], None),
        ("::1", "", [], "::1"),
        # Some proxies forward the client's port too: the address is still the client's.
        ("10.0.0.2", "198.51.100.1:51234", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.2", "[2001:db8::7]:443", ["10.0.0.0/8"], "2001:db8::7"),
        ("10.0.0.2", "2001:db8::7, 10.0.0.3:80", ["10.0.0.0/8"], "2001:db8::7"),
    ],
)
def test_client_ip_behind_trusted_proxies(settings, remote, forwarded, trusted, expected):
    import ipaddress

    settings.TRUSTED_PROXY_NETWORKS = [ipaddress.ip_network(n) for n in trusted]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
