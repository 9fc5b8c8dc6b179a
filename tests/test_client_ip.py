"""Who is calling: the socket peer, or behind trusted proxies the right-most address in
X-Forwarded-For that no trusted proxy wrote. Unit rules first, then start-up, then HTTP."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest
from conftest import serve
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import PASSWORD, new_email, register

from security.client_ip import client_ip
from settings import ConfigurationError, load_settings

PEER = "203.0.113.7"  # the socket peer the test transport reports (conftest.serve)

LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    __typename ... on AuthPayload { accessToken sessionId } ... on Problem { message } } }"""
SESSIONS = "query { sessions { id ipAddress current } }"

# ---------------------------------------------------------------- small helpers


def networks(*cidrs: str) -> list[Any]:
    return [ip_network(cidr) for cidr in cidrs]


PROXIES = networks("10.0.0.0/8")


async def post(
    client, query: str, variables: dict[str, Any], token: str | None = None, **headers: str
) -> Any:
    """One operation with extra headers; the single root field's value."""
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return next(iter(body["data"].values()))


async def login_from(client, email: str, forwarded_for: str | None = None) -> dict[str, Any]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    result = await post(client, LOGIN, {"email": email, "password": PASSWORD}, **headers)
    assert result["__typename"] == "AuthPayload", result
    return result


async def current_session(client, access_token: str) -> dict[str, Any]:
    sessions = await post(client, SESSIONS, {}, token=access_token)
    (current,) = [session for session in sessions if session["current"]]
    return current


# ---------------------------------------------------------------- unit: client_ip


def test_untrusted_peer_ignores_forwarded_for():
    assert client_ip("198.51.100.1", ["1.2.3.4"], PROXIES) == "198.51.100.1"
    assert client_ip("198.51.100.1", ["1.2.3.4, 10.0.0.2"], PROXIES) == "198.51.100.1"


def test_trusted_peer_without_forwarded_for_is_the_client():
    assert client_ip("10.0.0.1", [], PROXIES) == "10.0.0.1"
    assert client_ip("10.0.0.1", [""], PROXIES) == "10.0.0.1"


def test_trusted_peer_takes_the_right_most_untrusted_hop():
    # The left-most entry is whatever the client claimed; only the right-most counts.
    assert client_ip("10.0.0.1", ["1.2.3.4, 198.51.100.9"], PROXIES) == "198.51.100.9"


def test_a_chain_of_trusted_proxies_is_skipped():
    trusted = networks("10.0.0.0/8", "172.16.0.0/12")
    chain = ["6.6.6.6, 198.51.100.9, 172.16.0.5, 10.0.0.3 ,10.0.0.2"]
    assert client_ip("10.0.0.1", chain, trusted) == "198.51.100.9"


def test_several_forwarded_for_headers_are_joined_in_order():
    assert client_ip("10.0.0.1", ["1.2.3.4, 198.51.100.9", "10.0.0.2"], PROXIES) == "198.51.100.9"
    assert client_ip("10.0.0.1", ["198.51.100.9", "1.2.3.4"], PROXIES) == "1.2.3.4"
    assert client_ip("10.0.0.1", ["1.2.3.4", "10.0.0.3, 10.0.0.2"], PROXIES) == "1.2.3.4"


@pytest.mark.parametrize("garbage", ["unknown", "not-an-ip", "1.2.3.4:5678", "999.1.1.1", "_hidden"])
def test_a_garbage_hop_stops_the_walk_at_the_last_vouched_address(garbage):
    assert client_ip("10.0.0.1", [f"1.2.3.4, {garbage}"], PROXIES) == "10.0.0.1"
    assert client_ip("10.0.0.1", [f"1.2.3.4, {garbage}, 10.0.0.2"], PROXIES) == "10.0.0.2"
    assert client_ip("10.0.0.1", [f"{garbage}, 198.51.100.9"], PROXIES) == "198.51.100.9"


def test_ipv6_peers_and_hops():
    trusted = networks("fd00::/8", "10.0.0.0/8")
    assert client_ip("fd00::1", ["2001:db8::5, fd00::2"], trusted) == "2001:db8::5"
    assert client_ip("fd00::1", ["2001:DB8:0:0::5"], trusted) == "2001:db8::5"
    assert client_ip("fd00::1", ["198.51.100.9, 10.0.0.2"], trusted) == "198.51.100.9"
    assert client_ip("2001:db8::7", ["198.51.100.9"], trusted) == "2001:db8::7"


def test_ipv4_mapped_ipv6_addresses_match_ipv4_trusted_networks():
    # `uvicorn --workers N --host ::` binds one dual-stack socket: an IPv4 proxy then
    # shows up as ::ffff:a.b.c.d. It is still the proxy TRUSTED_PROXIES names.
    assert client_ip("::ffff:10.0.0.1", ["198.51.100.9"], PROXIES) == "198.51.100.9"
    assert client_ip("10.0.0.1", ["198.51.100.9, ::ffff:10.0.0.2"], PROXIES) == "198.51.100.9"


def test_empty_trusted_list_always_answers_the_peer():
    assert client_ip("10.0.0.1", ["198.51.100.9"], []) == "10.0.0.1"
    assert client_ip("::1", ["198.51.100.9"], []) == "::1"


def test_no_peer_is_no_address():
    assert client_ip(None, ["198.51.100.9"], PROXIES) is None
    assert client_ip(None, [], []) is None


# ---------------------------------------------------------------- start-up


@pytest.mark.parametrize("value", ["10.0.0.0/33", "not-a-network", "10.0.0.0/8, 300.1.2.0/24", "fd00::/129"])
def test_bad_trusted_proxies_are_refused_at_start_up_naming_the_variable(monkeypatch, tmp_path, value):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("TRUSTED_PROXIES", value)
    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        load_settings()


def test_good_trusted_proxies_are_read_as_networks(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("MONGO_URL", "JWT_SECRET", "JWT_ALGORITHM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRUSTED_PROXIES", " 10.0.0.0/8 , 2001:db8::/32,192.0.2.1 ")
    settings = load_settings()
    assert settings.trusted_proxy_networks == networks("10.0.0.0/8", "2001:db8::/32", "192.0.2.1/32")


# ---------------------------------------------------------------- over HTTP


async def test_behind_a_trusted_proxy_the_session_records_the_forwarded_client(backend_urls, mailbox):
    async with serve(settings_with(backend_urls, mailbox, trusted_proxies="203.0.113.0/24")) as proxied:
        email = new_email()
        await register(proxied, mailbox, email)

        signed_in = await login_from(proxied, email, "198.51.100.9, 203.0.113.50")
        current = await current_session(proxied, signed_in["accessToken"])
        assert current["id"] == signed_in["sessionId"]
        assert current["ipAddress"] == "198.51.100.9"

        direct = await login_from(proxied, email)
        assert (await current_session(proxied, direct["accessToken"]))["ipAddress"] == PEER


async def test_without_trusted_proxies_a_spoofed_forwarded_for_is_ignored(client, mailbox):
    email = new_email()
    await register(client, mailbox, email)
    signed_in = await login_from(client, email, "1.2.3.4")
    current = await current_session(client, signed_in["accessToken"])
    assert current["id"] == signed_in["sessionId"]
    assert current["ipAddress"] == PEER
