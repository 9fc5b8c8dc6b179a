"""The fuzzer's own account: registered, signed in, and registered again when fuzzing took it away."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import requests

from tests.fuzzing.policy import GRAPHQL_PATH, HTTP_TIMEOUT, check_response
from tests.fuzzing.values import Pool

USER = "id email"
AUTH = f"... on AuthPayload {{ accessToken refreshToken sessionId user {{ {USER} }} }}"
PROBLEM = "... on Problem { __typename message }"
START = f"""mutation($email: String!) {{ startRegistration(email: $email) {{ __typename
  ... on RegistrationStarted {{ registrationId }} {PROBLEM} }} }}"""
VERIFY = f"""mutation($id: ID!, $code: String!) {{ verifyRegistrationCode(registrationId: $id, code: $code) {{
  __typename ... on RegistrationVerified {{ registrationToken }} {PROBLEM} }} }}"""
SET_PASSWORD = f"""mutation($token: String!, $password: String!) {{
  setRegistrationPassword(registrationToken: $token, password: $password) {{ __typename {PROBLEM} }} }}"""
COMPLETE = f"""mutation($token: String!, $profile: ProfileInput!) {{
  completeRegistration(registrationToken: $token, profile: $profile) {{ __typename {AUTH} {PROBLEM} }} }}"""
LOGIN = f"""mutation($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ __typename {AUTH} {PROBLEM} }} }}"""
START_RESET = f"""mutation($email: String!) {{ startPasswordReset(email: $email) {{ __typename
  ... on PasswordResetStarted {{ resetId }} {PROBLEM} }} }}"""
WHO = "{ me { id email } sessions { id current } }"
PROFILE = {"firstName": "Fuzz", "lastName": "Tester", "phone": "+14155550123"}


class GraphQLClient:
    """Plain GraphQL over HTTP with requests, for the setup calls the fuzzer makes itself."""

    def __init__(self, base_url: str, session: requests.Session) -> None:
        self.url = base_url.rstrip("/") + GRAPHQL_PATH
        self.session = session

    def body(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.session.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=HTTP_TIMEOUT,
        )
        check_response(response.status_code, response.text, sent=query + json.dumps(variables))
        return response.json()

    def field(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        """The single root field's value; AssertionError on any top-level error."""
        body = self.body(query, variables, token)
        if body.get("errors"):
            raise AssertionError(f"setup call failed: {body}")
        return next(iter(body["data"].values()))


class Account:
    """A real user the fuzzer signs in as; registered again whenever the fuzzing took it away
    (password changed or reset, account deleted, login locked). Without `read_code` it only
    holds a given token."""

    PASSWORD = "fuzzing horse battery staple"

    def __init__(
        self,
        client: GraphQLClient,
        pool: Pool,
        read_code: Callable[[str], str] | None = None,
        token: str | None = None,
    ) -> None:
        self.client = client
        self.pool = pool
        self.read_code = read_code
        self.email: str | None = None
        self.user_id: str | None = None
        self.session_id: str | None = None
        self._token = token
        self.dirty = token is not None
        self.renewals = 0

    def token(self) -> str | None:
        """A valid access token, checked again after anything that may have revoked it."""
        if self._token is not None and not self.dirty:
            return self._token
        if self._token is not None and self._still_valid():
            self.dirty = False
            return self._token
        if self.read_code is None:
            return self._token  # a given token: nothing to renew it with
        self.renewals += 1
        if not self._login():
            self._register()
        self.dirty = False
        return self._token

    def _still_valid(self) -> bool:
        body = self.client.body(WHO, token=self._token)
        if body.get("errors"):
            return False
        self.pool.capture(body["data"])
        return True

    def _login(self) -> bool:
        if self.email is None:
            return False
        result = self.client.field(LOGIN, {"email": self.email, "password": self.PASSWORD})
        if result["__typename"] != "AuthPayload":
            return False
        self._signed_in(result)
        return True

    def _register(self) -> None:
        assert self.read_code is not None
        email = f"fuzz-{secrets.token_hex(6)}@example.com"
        token = self._verified(email)
        password_set = self.client.field(SET_PASSWORD, {"token": token, "password": self.PASSWORD})
        assert password_set["__typename"] == "RegistrationPasswordSet", password_set
        result = self.client.field(COMPLETE, {"token": token, "profile": PROFILE})
        assert result["__typename"] == "AuthPayload", result
        self.email = email
        self._signed_in(result)
        self.seed_flows()

    def _verified(self, email: str) -> str:
        """Registration steps 1 and 2 for `email`: the registration token."""
        assert self.read_code is not None
        started = self.client.field(START, {"email": email})
        assert started["__typename"] == "RegistrationStarted", started
        verified = self.client.field(VERIFY, {"id": started["registrationId"], "code": self.read_code(email)})
        assert verified["__typename"] == "RegistrationVerified", verified
        return str(verified["registrationToken"])

    def _signed_in(self, payload: dict[str, Any]) -> None:
        self._token = payload["accessToken"]
        self.user_id = payload["user"]["id"]
        self.session_id = payload["sessionId"]
        self.pool.add("email", self.email)
        self.pool.add("password", self.PASSWORD)
        self.pool.capture(payload)

    def seed_flows(self) -> None:
        """Live flows for the fuzzer to find in the pool: a started registration and a started
        reset (their codes in the mailbox), a verified registration, and one with its password
        set, so fuzzed documents reach the later steps too."""
        if self.read_code is None or self.email is None:
            return
        self.pool.capture(self.client.field(START, {"email": f"fuzz-{secrets.token_hex(6)}@example.com"}))
        self.pool.capture(self.client.field(START_RESET, {"email": self.email}))
        self.pool.add("registrationToken", self._verified(f"fuzz-{secrets.token_hex(6)}@example.com"))
        token = self._verified(f"fuzz-{secrets.token_hex(6)}@example.com")
        self.client.field(SET_PASSWORD, {"token": token, "password": self.PASSWORD})
        self.pool.add("registrationToken", token)
