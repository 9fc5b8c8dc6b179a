"""Social sign-in over real HTTP against a real OpenID Provider (panva's oidc-provider) and
the GitHub-shaped server: every linking rule, each tested by the takeover it stops (the
string "false", an unverified local account, a changed provider address, a reused state,
a replayed ticket, a ticket without its verifier, a forged ID token, a wrong aud, a wrong
nonce, an expired token), the second factor after a social sign-in, the per-IP limits."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pyotp
import pytest
from conftest import TOTP_NOW, Mailbox
from flows import LOGIN, PASSWORD, data, gql, register
from github_provider import GitHubProvider, email
from oidc_provider import OidcProvider
from pymongo import AsyncMongoClient
from social import (
    APP_REDIRECT,
    COMPLETE,
    PUBLIC_URL,
    START,
    SocialApp,
    challenge_of,
    new_address,
    new_sub,
    query_of,
    social_app,
)

from embedded import free_port

ENROLL = """mutation($password: String!) { enrollTotp(password: $password) { __typename
  ... on TotpEnrollment { secret } } }"""
CONFIRM = """mutation($code: String!) { confirmTotp(code: $code) { __typename } }"""
VERIFY = """mutation($id: ID!, $code: String!) { verifySecondFactor(challengeId: $id, code: $code) {
  __typename ... on AuthPayload { accessToken } } }"""
PROVIDERS = "query { socialProviders { id displayName } }"


@pytest.fixture(scope="module")
async def app(
    backend_urls: dict[str, str],
    mailbox: Mailbox,
    oidc_provider: OidcProvider,
    github_provider: GitHubProvider,
) -> AsyncIterator[SocialApp]:
    async with social_app(backend_urls, mailbox, oidc_provider, github_provider) as social:
        yield social


def person(app: SocialApp, address: str | None = None, **claims: Any) -> str:
    """A new subject at the OpenID Provider with a verified address and names unless told."""
    values: dict[str, Any] = {
        "email": address or new_address(),
        "email_verified": True,
        "given_name": "Grace",
        "family_name": "Hopper",
    }
    values.update(claims)
    return app.oidc.set_account(
        new_sub(), **{key: value for key, value in values.items() if value is not None}
    )


async def users_with(backend_urls: dict[str, str], settings_db: str, address: str) -> int:
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backend_urls["mongo_url"])
    try:
        return await mongo[settings_db]["users"].count_documents({"email": address})
    finally:
        await mongo.close()


def db(app: SocialApp) -> str:
    return app.app.state.services.settings.mongo_db


def claims_of(access_token: str) -> dict[str, Any]:
    return jwt.decode(access_token, options={"verify_signature": False})


# ---------------------------------------------------------------- the flow


async def test_providers_are_listed_in_configuration_order(app: SocialApp) -> None:
    providers = await data(app.client, PROVIDERS)
    assert providers == [
        {"id": "acme", "displayName": "Acme SSO"},
        {"id": "trusty", "displayName": "trusty"},
        {"id": "gh", "displayName": "GitHub"},
        {"id": "ms", "displayName": "Microsoft"},
    ]


async def test_a_new_verified_identity_makes_an_account_without_a_password(app: SocialApp) -> None:
    address = new_address()
    sub = person(app, address)
    verifier, url = await app.start()
    sent = query_of(url)
    assert sent["code_challenge_method"] == ["S256"] and sent["nonce"] and sent["state"]
    assert sent["redirect_uri"] == [f"{PUBLIC_URL}/oauth/callback/acme"]
    answer = await app.callback(await app.oidc.sign_in(url, sub))
    # Back to the app with a ticket and nothing else, not cached, no Referer onwards.
    assert answer.status_code == 302
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    location = answer.headers["location"]
    assert location.startswith(APP_REDIRECT + "?ticket=") and list(query_of(location)) == ["ticket"]
    assert address not in location
    signed = await app.complete(query_of(location)["ticket"][0], verifier)
    assert signed["__typename"] == "AuthPayload", signed
    assert signed["user"]["email"] == address and signed["user"]["firstName"] == "Grace"
    assert claims_of(signed["accessToken"])["amr"] == ["fed"]
    me = await app.me(signed["accessToken"])
    assert me["hasPassword"] is False
    assert [(item["provider"], item["email"]) for item in me["identities"]] == [("acme", address)]
    # The same identity signs into the same account next time.
    again = await app.sign_in(sub)
    assert again["__typename"] == "AuthPayload" and again["user"]["id"] == signed["user"]["id"]
    # A social-only account has no password: login with any password is refused.
    refused = await data(app.client, LOGIN, {"email": address, "password": ""})
    assert refused["__typename"] in ("InvalidCredentials", "InvalidInput")


async def test_names_missing_ask_for_the_profile_and_the_ticket_stays_usable(app: SocialApp) -> None:
    sub = person(app, given_name=None, family_name=None)
    ticket, verifier = await app.ticket(sub)
    asked = await app.complete(ticket, verifier)
    assert asked["__typename"] == "InvalidInput"
    assert sorted(item["field"] for item in asked["fields"]) == ["firstName", "lastName"]
    signed = await app.complete(ticket, verifier, {"firstName": "Ada", "lastName": "Byron"})
    assert signed["__typename"] == "AuthPayload", signed
    assert (signed["user"]["firstName"], signed["user"]["lastName"]) == ("Ada", "Byron")


@pytest.mark.parametrize("verified", ["false", "true", 1, None, False])
async def test_only_a_boolean_true_email_verified_counts(
    app: SocialApp, backend_urls: dict[str, str], verified: Any
) -> None:
    """CVE-2026-134312: the string "false" taken as a verified address."""
    address = new_address()
    sub = person(app, address, email_verified=verified)
    answer = await app.sign_in(sub)
    assert answer["__typename"] == "SocialEmailUnverified", answer
    assert await users_with(backend_urls, db(app), address) == 0


async def test_an_existing_address_is_not_linked_by_an_untrusted_provider(
    app: SocialApp, mailbox: Mailbox
) -> None:
    owner = await register(app.client, mailbox)
    address = owner["user"]["email"]
    answer = await app.sign_in(person(app, address))
    assert answer["__typename"] == "SocialAccountExists", answer
    me = await app.me(owner["accessToken"])
    assert me["identities"] == [] and me["hasPassword"] is True


async def test_a_trusted_provider_links_a_verified_address_of_a_proven_account(
    app: SocialApp, mailbox: Mailbox
) -> None:
    owner = await register(app.client, mailbox)
    answer = await app.sign_in(person(app, owner["user"]["email"]), provider="trusty")
    assert answer["__typename"] == "AuthPayload", answer
    assert answer["user"]["id"] == owner["user"]["id"]
    assert [item["provider"] for item in (await app.me(owner["accessToken"]))["identities"]] == ["trusty"]


async def test_a_trusted_provider_does_not_link_an_unverified_address(
    app: SocialApp, mailbox: Mailbox
) -> None:
    owner = await register(app.client, mailbox)
    answer = await app.sign_in(person(app, owner["user"]["email"], email_verified="true"), provider="trusty")
    assert answer["__typename"] == "SocialEmailUnverified", answer


async def test_a_trusted_provider_does_not_link_into_an_unproven_local_account(
    app: SocialApp, mailbox: Mailbox, backend_urls: dict[str, str]
) -> None:
    """CVE-2026-53516: linking into a local account whose address was never verified (an
    account made for someone who never came: `email_proven` false)."""
    owner = await register(app.client, mailbox)
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backend_urls["mongo_url"])
    try:
        await mongo[db(app)]["users"].update_one(
            {"email": owner["user"]["email"]}, {"$set": {"email_proven": False}}
        )
    finally:
        await mongo.close()
    app.app.state.services.users.forget_all()
    answer = await app.sign_in(person(app, owner["user"]["email"]), provider="trusty")
    assert answer["__typename"] == "SocialAccountExists", answer


async def test_a_changed_provider_address_signs_into_the_linked_account_only(
    app: SocialApp, mailbox: Mailbox
) -> None:
    """The identity is (provider, subject): its address changed to a victim's opens the
    attacker's own account, never the victim's."""
    attacker = await app.sign_in(sub := person(app))
    victim = await register(app.client, mailbox)
    app.oidc.set_account(
        sub, email=victim["user"]["email"], email_verified=True, given_name="G", family_name="H"
    )
    answer = await app.sign_in(sub, provider="acme")
    assert answer["__typename"] == "AuthPayload"
    assert answer["user"]["id"] == attacker["user"]["id"] != victim["user"]["id"]


async def test_a_state_is_consumed_once(app: SocialApp) -> None:
    verifier, url = await app.start()
    back = await app.oidc.sign_in(url, person(app))
    first = await app.callback(back)
    assert first.status_code == 302 and "ticket=" in first.headers["location"]
    replayed = await app.callback(back)
    assert replayed.status_code == 400 and "location" not in replayed.headers
    assert replayed.headers["cache-control"] == "no-store"
    forged = await app.client.get("/oauth/callback/acme?code=x&state=" + secrets.token_urlsafe(32))
    assert forged.status_code == 400


async def test_a_ticket_is_used_once(app: SocialApp) -> None:
    ticket, verifier = await app.ticket(person(app))
    assert (await app.complete(ticket, verifier))["__typename"] == "AuthPayload"
    assert (await app.complete(ticket, verifier))["__typename"] == "FlowExpired"


async def test_a_ticket_without_its_verifier_opens_nothing_and_is_spent(app: SocialApp) -> None:
    ticket, verifier = await app.ticket(person(app))
    stolen = await app.complete(ticket, secrets.token_urlsafe(48))
    assert stolen["__typename"] == "FlowExpired"
    assert (await app.complete(ticket, verifier))["__typename"] == "FlowExpired"


async def test_a_denied_consent_goes_back_with_access_denied(app: SocialApp) -> None:
    _, url = await app.start()
    back = await app.oidc.sign_in(url, person(app), consent=False)
    answer = await app.callback(back)
    assert answer.status_code == 302
    assert answer.headers["location"] == APP_REDIRECT + "?error=access_denied"


def expired() -> dict[str, Any]:
    return {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}


@pytest.mark.parametrize(
    "tampering",
    [
        {"key": "foreign"},  # signed by a key the issuer never published
        {"key": "foreign", "kid": "use-a-published-kid"},  # ... naming a published kid
        {"key": "none"},  # alg none
        {"key": "client_secret"},  # HS256 keyed by our client secret
        {"aud": "another-client"},
        {"aud": ["another-client", "yet-another"], "azp": "another-client"},
        {"azp": "another-client"},
        {"nonce": "not-the-flows-nonce"},
        {"remove": ["nonce"]},
        {"iss": "https://evil.example"},
        expired(),
        {"iat": int(time.time()) + 3600},
    ],
    ids=lambda tampering: ",".join(f"{key}" for key in tampering),
)
async def test_an_id_token_that_does_not_prove_the_person_is_refused(
    app: SocialApp, backend_urls: dict[str, str], tampering: dict[str, Any]
) -> None:
    address = new_address()
    sub = person(app, address)
    _, url = await app.start()
    if tampering.get("kid") == "use-a-published-kid":
        tampering = {**tampering, "kid": app.oidc.jwks()["keys"][0]["kid"]}
    app.oidc.next_id_token(app.clients["acme"], **tampering)
    answer = await app.callback(await app.oidc.sign_in(url, sub))
    assert answer.status_code == 302
    assert answer.headers["location"] == APP_REDIRECT + "?error=provider_error"
    assert await users_with(backend_urls, db(app), address) == 0


async def test_a_rotated_signing_key_is_fetched_once(app: SocialApp) -> None:
    assert (await app.sign_in(person(app)))["__typename"] == "AuthPayload"  # the key set is kept
    before = app.oidc.requests("/jwks")
    app.oidc.rotate_keys(keep_old=True)
    assert (await app.sign_in(person(app)))["__typename"] == "AuthPayload"
    assert (await app.sign_in(person(app)))["__typename"] == "AuthPayload"
    assert app.oidc.requests("/jwks") == before + 1


async def test_a_bad_start_is_answered(app: SocialApp) -> None:
    challenge = challenge_of("v" * 50)
    unknown = await data(app.client, START, {"p": "nope", "r": APP_REDIRECT, "c": challenge})
    assert unknown["__typename"] == "UnknownProvider"
    elsewhere = await data(app.client, START, {"p": "acme", "r": "https://evil.example/cb", "c": challenge})
    assert elsewhere["__typename"] == "RedirectNotAllowed"
    prefix = await data(app.client, START, {"p": "acme", "r": APP_REDIRECT + "/../x", "c": challenge})
    assert prefix["__typename"] == "RedirectNotAllowed"
    body = await gql(app.client, START, {"p": "acme", "r": APP_REDIRECT, "c": "short"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# ---------------------------------------------------------------- the second factor


async def test_a_social_sign_in_into_an_account_with_two_factor_asks_for_it(
    app: SocialApp, mailbox: Mailbox
) -> None:
    owner = await register(app.client, mailbox)
    enrolled = await data(app.client, ENROLL, {"password": PASSWORD}, owner["accessToken"])
    totp = pyotp.TOTP(enrolled["secret"])
    confirmed = await data(app.client, CONFIRM, {"code": totp.at(TOTP_NOW - 30)}, owner["accessToken"])
    assert confirmed["__typename"] == "TotpEnabled"
    answer = await app.sign_in(person(app, owner["user"]["email"]), provider="trusty")
    assert answer["__typename"] == "SecondFactorRequired", answer
    verified = await data(app.client, VERIFY, {"id": answer["challengeId"], "code": totp.at(TOTP_NOW)})
    assert verified["__typename"] == "AuthPayload"
    assert claims_of(verified["accessToken"])["amr"] == ["fed", "otp", "mfa"]


# ---------------------------------------------------------------- GitHub


async def test_github_signs_in_with_its_verified_primary_address(app: SocialApp) -> None:
    address = new_address()
    user = app.github.add_user(
        emails=[email(new_address(), verified=True), email(address, primary=True, verified=True)]
    )
    answer = await app.sign_in(user.login, provider="gh", profile={"firstName": "Octo", "lastName": "Cat"})
    assert answer["__typename"] == "AuthPayload", answer
    assert answer["user"]["email"] == address
    # A renamed login is the same GitHub account (the numeric id is the subject).
    del app.github.users[user.login]
    user.login = "renamed-" + secrets.token_hex(3)
    app.github.users[user.login] = user
    again = await app.sign_in(user.login, provider="gh")
    assert again["__typename"] == "AuthPayload" and again["user"]["id"] == answer["user"]["id"]


async def test_github_without_a_verified_primary_address_makes_nothing(
    app: SocialApp, backend_urls: dict[str, str]
) -> None:
    primary, other = new_address(), new_address()
    user = app.github.add_user(emails=[email(primary, primary=True), email(other, verified=True)])
    answer = await app.sign_in(user.login, provider="gh", profile={"firstName": "Octo", "lastName": "Cat"})
    assert answer["__typename"] == "SocialEmailUnverified", answer
    assert await users_with(backend_urls, db(app), primary) == 0
    assert await users_with(backend_urls, db(app), other) == 0


# ---------------------------------------------------------------- per-IP limits


async def test_social_sign_in_counts_into_the_per_ip_limits(
    backend_urls: dict[str, str],
    mailbox: Mailbox,
    oidc_provider: OidcProvider,
    github_provider: GitHubProvider,
) -> None:
    limits = {"rate_limit_start_social_sign_in": "3/minute", "rate_limit_complete_social_sign_in": "2/minute"}
    async with social_app(backend_urls, mailbox, oidc_provider, github_provider, **limits) as limited:
        ticket, verifier = await limited.ticket(person(limited))
        for _ in range(2):
            await limited.start()
        refused = await data(
            limited.client, START, {"p": "acme", "r": APP_REDIRECT, "c": challenge_of("v" * 50)}
        )
        assert refused["__typename"] == "RateLimited"
        wrong = await data(limited.client, COMPLETE, {"t": "nothing", "v": "x" * 43})
        assert wrong["__typename"] == "FlowExpired"
        assert (await limited.complete(ticket, verifier))["__typename"] == "AuthPayload"
        third = await data(limited.client, COMPLETE, {"t": ticket, "v": verifier})
        assert third["__typename"] == "RateLimited"


async def test_the_callback_takes_a_form_post(app: SocialApp) -> None:
    """Apple answers with response_mode=form_post: the same parameters, POSTed."""
    verifier, url = await app.start()
    back = await app.oidc.sign_in(url, person(app))
    form = {key: values[0] for key, values in query_of(back).items()}
    answer = await app.client.post("/oauth/callback/acme", data=form)
    assert answer.status_code == 302 and answer.headers["cache-control"] == "no-store"
    ticket = query_of(answer.headers["location"])["ticket"][0]
    assert (await app.complete(ticket, verifier))["__typename"] == "AuthPayload"


async def test_a_callback_of_junk_is_a_400(app: SocialApp) -> None:
    many = "&".join(f"f{n}=x" for n in range(50))
    for answer in (
        await app.client.post("/oauth/callback/acme", content=many),
        await app.client.post("/oauth/callback/acme", content=b"\xff\xfe"),
        await app.client.get("/oauth/callback/nope?state=x&code=y"),
        await app.client.get("/oauth/callback/acme"),
    ):
        assert answer.status_code == 400 and answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_provider_out_of_reach_is_answered_fast_and_typed(
    backend_urls: dict[str, str],
    mailbox: Mailbox,
    oidc_provider: OidcProvider,
    github_provider: GitHubProvider,
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with social_app(
        backend_urls, mailbox, oidc_provider, github_provider, social_acme_issuer=nowhere
    ) as down:
        started = time.monotonic()
        body = await gql(down.client, START, {"p": "acme", "r": APP_REDIRECT, "c": challenge_of("v" * 50)})
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert time.monotonic() - started < 5
        # The other providers still work.
        assert (await down.sign_in(person(down), provider="trusty"))["__typename"] == "AuthPayload"


async def test_racing_completions_of_one_ticket_sign_in_once(app: SocialApp) -> None:
    ticket, verifier = await app.ticket(person(app))
    answers = await asyncio.gather(*(app.complete(ticket, verifier) for _ in range(6)))
    kinds = sorted(answer["__typename"] for answer in answers)
    assert kinds == ["AuthPayload"] + ["FlowExpired"] * 5


async def test_racing_callbacks_with_one_state_issue_one_ticket(app: SocialApp) -> None:
    _, url = await app.start()
    back = await app.oidc.sign_in(url, person(app))
    answers = await asyncio.gather(*(app.callback(back) for _ in range(5)))
    assert sorted(answer.status_code for answer in answers) == [302, 400, 400, 400, 400]


async def test_racing_first_sign_ins_of_one_identity_make_one_account(
    app: SocialApp, backend_urls: dict[str, str]
) -> None:
    address = new_address()
    sub = person(app, address)
    tickets = [await app.ticket(sub) for _ in range(4)]
    answers = await asyncio.gather(*(app.complete(ticket, verifier) for ticket, verifier in tickets))
    # Each is signed in, into the one account: a loser of the race finds what the winner linked
    # (or, if it looked before the link, is told the address has an account).
    kinds = {answer["__typename"] for answer in answers}
    assert kinds <= {"AuthPayload", "SocialAccountExists"}, answers
    signed = [answer for answer in answers if answer["__typename"] == "AuthPayload"]
    assert signed and len({answer["user"]["id"] for answer in signed}) == 1
    assert await users_with(backend_urls, db(app), address) == 1


async def test_microsofts_email_counts_only_with_xms_edov(
    app: SocialApp, backend_urls: dict[str, str]
) -> None:
    """Microsoft does not verify `email`: `email_verified` true from it proves nothing."""
    address = new_address()
    answer = await app.sign_in(person(app, address), provider="ms")
    assert answer["__typename"] == "SocialEmailUnverified", answer
    assert await users_with(backend_urls, db(app), address) == 0
    proven = await app.sign_in(person(app, address, email_verified=None, xms_edov=True), provider="ms")
    assert proven["__typename"] == "AuthPayload", proven
    assert proven["user"]["email"] == address
