"""Outbound requests (webhooks, HTTP checks, alert webhooks) refuse every non-public target by
default, whatever form it is written in, and never follow a redirect. Only loopback is ever
contacted here: the other private ranges are judged without sending a packet."""

from __future__ import annotations

import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from chronoverse import outbound_http


class Target:
    """A loopback HTTP server that records what reaches it; `redirect_to` makes it answer 302."""

    def __init__(self, redirect_to: str = ""):
        self.hits: list[str] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.hits.append(self.path)
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                else:
                    self.send_response(200)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def target():
    server = Target()
    yield server
    server.close()


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",  # a name that resolves to loopback
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f000001",  # and in hexadecimal
        "127.1",  # and abbreviated
        "0.0.0.0",
        "[::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    ],
)
def test_loopback_in_every_form_is_refused_by_default_and_nothing_is_sent(settings, target, host):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False

    with pytest.raises(outbound_http.BlockedAddress) as refused:
        outbound_http.send("GET", f"http://{host}:{target.port}/secret", headers={}, body=None, timeout=2)

    assert "not a public address" in str(refused.value)
    assert target.hits == []


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "127.0.0.53",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_ranges_are_not_public(address):
    assert not outbound_http.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address):
    assert outbound_http.is_public(ipaddress.ip_address(address))


def test_the_operator_may_allow_private_targets(settings, target):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True

    result = outbound_http.send(
        "GET", f"http://localhost:{target.port}/ok", headers={"Host": "ignored"}, body=None, timeout=5
    )

    assert result.status == 200
    assert target.hits == ["/ok"]


def test_a_redirect_is_reported_never_followed(settings, target):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    redirecting = Target(redirect_to=f"http://127.0.0.1:{target.port}/internal")
    try:
        result = outbound_http.send("GET", f"http://127.0.0.1:{redirecting.port}/", headers={}, body=None, timeout=5)
    finally:
        redirecting.close()

    assert result.status == 302
    assert target.hits == []


def test_a_closed_port_and_a_silent_one_read_alike(settings, target):
    # What a job's log says must not work as a port scanner: no errno, no "refused" vs "reset".
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    port = target.port
    target.close()
    target.server.server_close()

    with pytest.raises(requests.ConnectionError) as failed:
        outbound_http.send("GET", f"http://127.0.0.1:{port}/", headers={}, body=None, timeout=2)

    assert str(failed.value) == f"could not connect to 127.0.0.1:{port}"
