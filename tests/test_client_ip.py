"""Who is calling: the socket peer, or behind trusted proxies the right-most address in
X-Forwarded-For that no trusted proxy wrote; and what per-IP budgets count (an IPv4
address, an IPv6 prefix). Unit rules first, then start-up, then the production command
(`uvicorn server:app --no-proxy-headers`) on real sockets, IPv4 and IPv6."""

from __future__ import annotations

import secrets
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from flows import PASSWORD, new_email, register
from served import PRODUCTION_COMMAND, ROOT, served
from test_attacks import new_ip

from security.client_ip import client_bucket, client_ip
from settings import ConfigurationError, load_settings

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


async def login_from(
    client, email: str, forwarded_for: str | None = None, password: str = PASSWORD
) -> dict[str, Any]:
    """One login; the answer, whatever it is."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    return await post(client, LOGIN, {"email": email, "password": password}, **headers)


async def signed_in_from(client, email: str, forwarded_for: str | None = None) -> dict[str, Any]:
    result = await login_from(client, email, forwarded_for)
    assert result["__typename"] == "AuthPayload", result
    return result


async def failed_logins(client, forwarded_fors: list[str]) -> list[str]:
    """Wrong-password logins of fresh addresses, one per X-Forwarded-For value: their kinds."""
    answers = [
        await login_from(client, new_email(), hop, "not the password at all") for hop in forwarded_fors
    ]
    return [answer["__typename"] for answer in answers]


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


# ---------------------------------------------------------------- unit: client_bucket


def test_ipv4_is_counted_per_address():
    assert client_bucket("198.51.100.7", 64) == "198.51.100.7"
    assert client_bucket("198.51.100.8", 48) == "198.51.100.8"


def test_ipv6_is_counted_per_prefix():
    assert client_bucket("2001:db8:1:2::a", 64) == "2001:db8:1:2::/64"
    assert client_bucket("2001:db8:1:2:ffff:ffff:ffff:ffff", 64) == "2001:db8:1:2::/64"
    assert client_bucket("2001:db8:1:3::a", 64) == "2001:db8:1:3::/64"
    assert client_bucket("2001:db8:1:3::a", 48) == "2001:db8:1::/48"
    assert client_bucket("2001:db8:1:3::a", 128) == "2001:db8:1:3::a/128"
    assert client_bucket("2001:DB8:1:2:0::A", 64) == "2001:db8:1:2::/64"


def test_ipv4_mapped_ipv6_is_counted_as_ipv4():
    assert client_bucket("::ffff:198.51.100.7", 64) == "198.51.100.7"


def test_unknown_and_unreadable_peers_have_buckets_of_their_own():
    assert client_bucket(None, 64) == "unknown"
    assert client_bucket("unix-socket", 64) == "unix-socket"


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


@pytest.mark.parametrize("value", ["47", "129", "0", "-64"])
def test_ipv6_prefix_length_outside_48_to_128_is_refused_at_start_up(monkeypatch, tmp_path, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IPV6_PREFIX_LENGTH", value)
    with pytest.raises(ConfigurationError, match="IPV6_PREFIX_LENGTH"):
        load_settings()


def test_good_trusted_proxies_are_read_as_networks(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("MONGO_URL", "JWT_SECRET", "JWT_ALGORITHM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRUSTED_PROXIES", " 10.0.0.0/8 , 2001:db8::/32,192.0.2.1 ")
    settings = load_settings()
    assert settings.trusted_proxy_networks == networks("10.0.0.0/8", "2001:db8::/32", "192.0.2.1/32")


# ---------------------------------------------------------------- on a real socket


def test_the_readme_production_command_turns_uvicorns_proxy_headers_off():
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default, before TRUSTED_PROXIES
    # is asked; the command the README gives must switch that off.
    command = " ".join(PRODUCTION_COMMAND)
    lines = (ROOT / "README.md").read_text().splitlines()
    assert any(line.strip("`").startswith(command) for line in lines), command


# Without TRUSTED_PROXIES, through `python server.py`: tests/test_server_process.py.


@pytest.mark.subprocess
async def test_behind_a_trusted_proxy_the_forwarded_client_is_counted_and_recorded(
    backend_urls, mailbox, tmp_path
):
    settings = settings_with(backend_urls, mailbox, trusted_proxies="127.0.0.1", rate_limit_login="3/minute")
    async with served(settings, tmp_path / "server.log") as url, httpx.AsyncClient(base_url=url) as client:
        email, forwarded, other = new_email(), new_ip(), new_ip()
        await register(client, mailbox, email)
        signed_in = await signed_in_from(client, email, f"1.2.3.4, {forwarded}")
        current = await current_session(client, signed_in["accessToken"])
        assert current["ipAddress"] == forwarded

        assert await failed_logins(client, [forwarded] * 3) == ["InvalidCredentials"] * 2 + ["RateLimited"]
        assert await failed_logins(client, [other]) == ["InvalidCredentials"]


@pytest.mark.subprocess
async def test_ipv6_clients_are_counted_per_64_and_recorded_in_full(backend_urls, mailbox, tmp_path):
    settings = settings_with(backend_urls, mailbox, trusted_proxies="::1", rate_limit_login="3/minute")
    log = tmp_path / "server.log"
    async with served(settings, log, host="::1") as url, httpx.AsyncClient(base_url=url) as client:
        email = new_email()
        # A /48 of its own: the limits' counts outlive the test (a cluster run shares them).
        net = f"2001:db8:{secrets.randbelow(0xFFFF):x}"
        await register(client, mailbox, email)
        signed_in = await signed_in_from(client, email, f"{net}:2::abcd")
        current = await current_session(client, signed_in["accessToken"])
        assert current["ipAddress"] == f"{net}:2::abcd"

        # Other addresses of the same /64 share its budget (the login above was its first).
        same_64 = [f"{net}:2::1", f"{net}:2:ffff:ffff:ffff:fffe", f"{net}:2::2"]
        assert await failed_logins(client, same_64) == ["InvalidCredentials"] * 2 + ["RateLimited"]
        # The neighbouring /64 and an IPv4 client have their own.
        assert await failed_logins(client, [f"{net}:3::1", f"{net}:3::2"]) == ["InvalidCredentials"] * 2
        assert await failed_logins(client, [new_ip()]) == ["InvalidCredentials"]
        # Without X-Forwarded-For the proxy itself is the client.
        assert await failed_logins(client, [""]) == ["InvalidCredentials"]
