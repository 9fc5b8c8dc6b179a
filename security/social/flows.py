"""The two single-use records of a social sign-in, in Redis.

- The flow (`social-flow:{<state>}`, FLOW_SECONDS): what startSocialSignIn / startSocialLink
  began: the provider, the OIDC nonce, authql's own PKCE verifier towards the provider,
  the app's code challenge, its redirect URI, what the flow is for (sign-in, or a link
  by one user's session). The callback takes it with GETDEL: a state is consumed once,
  whoever presents it.
- The ticket (`social-ticket:{<SHA-256 of the ticket>}`, TICKET_SECONDS): who the provider
  said signed in, waiting for the app's completeSocialSignIn / completeSocialLink with the
  verifier whose challenge started the flow. Stored by the ticket's digest, so a copy of
  Redis holds no usable ticket; taken for good by whoever deletes it first (`spend`).

State, nonce, verifiers and tickets are 256 random bits each.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from security import clock
from security.social.providers import ProviderIdentity

FLOW_SECONDS = 600
TICKET_SECONDS = 300
SIGN_IN = "sign_in"
LINK = "link"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def s256(verifier: str) -> str:
    """RFC 7636's code challenge of `verifier`: BASE64URL(SHA256(verifier)), no padding."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Flow:
    state: str
    provider: str
    nonce: str
    verifier: str  # authql's, towards the provider
    challenge: str  # the app's
    redirect_uri: str
    purpose: str  # SIGN_IN or LINK
    user_id: str | None = None  # LINK: whose session started it
    expires_at: float = 0.0

    @property
    def expires(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)


@dataclass(frozen=True)
class Ticket:
    provider: str
    purpose: str
    challenge: str
    identity: ProviderIdentity
    user_id: str | None = None

    def verifier_matches(self, verifier: str) -> bool:
        return hmac.compare_digest(s256(verifier).encode(), self.challenge.encode())


class SocialFlows:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def open(
        self,
        *,
        provider: str,
        challenge: str,
        redirect_uri: str,
        purpose: str,
        user_id: str | None = None,
    ) -> Flow:
        flow = Flow(
            state=new_secret(),
            provider=provider,
            nonce=new_secret(),
            verifier=new_secret() + new_secret(),  # 86 characters, within RFC 7636's 43-128
            challenge=challenge,
            redirect_uri=redirect_uri,
            purpose=purpose,
            user_id=user_id,
            expires_at=clock.now() + FLOW_SECONDS,
        )
        await self._redis.set(_flow_key(flow.state), json.dumps(asdict(flow)), ex=FLOW_SECONDS)
        return flow

    async def take(self, state: str) -> Flow | None:
        """The flow of `state`, consumed; None if unknown, expired or already taken."""
        if not state or len(state) > 128:
            return None
        stored = await self._redis.getdel(_flow_key(state))
        if stored is None:
            return None
        flow = Flow(**json.loads(stored))
        return flow if flow.expires_at > clock.now() else None

    async def issue_ticket(self, flow: Flow, identity: ProviderIdentity) -> str:
        ticket = new_secret()
        record = Ticket(
            provider=flow.provider,
            purpose=flow.purpose,
            challenge=flow.challenge,
            identity=identity,
            user_id=flow.user_id,
        )
        await self._redis.set(_ticket_key(ticket), json.dumps(asdict(record)), ex=TICKET_SECONDS)
        return ticket

    async def ticket(self, ticket: str) -> Ticket | None:
        """The ticket, not spent: a completion that answers InvalidInput leaves it usable."""
        if not ticket or len(ticket) > 128:
            return None
        stored = await self._redis.get(_ticket_key(ticket))
        if stored is None:
            return None
        fields = json.loads(stored)
        fields["identity"] = ProviderIdentity(**fields["identity"])
        return Ticket(**fields)

    async def spend(self, ticket: str) -> bool:
        """Take the ticket for good; False if another request took it first."""
        return bool(await self._redis.delete(_ticket_key(ticket)))


def _flow_key(state: str) -> str:
    return f"social-flow:{{{state}}}"


def _ticket_key(ticket: str) -> str:
    return f"social-ticket:{{{hashlib.sha256(ticket.encode()).hexdigest()}}}"
