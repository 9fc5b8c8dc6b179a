"""Events into the queue, and the sender that delivers them.

`emit` is the one call a flow makes once its change is made, in the same request:

    await context.services.webhooks.emit(events.USER_CREATED, user)

It writes one delivery per enabled endpoint that takes the event (one `insert_many`),
each with its own `webhook-id`, kept for every retry. MongoDB as authql uses it (one
server, nx-27017 embedded) has no multi-document transactions, so the change and its
deliveries are two writes: the deliveries are written right after the change, before
the answer. If that write fails the change stands and the loss is logged as the
security event `webhook_event_lost`; a process that dies between the two writes loses
the event silently. Nothing is delivered for a change that was not made.

Each process runs one sender (like the mail outbox's): it claims due deliveries with the
outbox's lease (mail/outbox.py: `claim_due`, `retry_delay`) on a collection of their own
and works on up to CONCURRENCY at once, at most one per endpoint per process: a slow or
dead endpoint holds one slot for at most its 10 s timeout, never the others, and never
mail. A failed try is put back with exponential backoff and jitter
(WEBHOOK_RETRY_BASE_SECONDS, doubled each time); after WEBHOOK_MAX_ATTEMPTS it is
abandoned (security event `webhook_abandoned`, metric). WEBHOOK_DISABLE_AFTER_FAILURES
failed tries in a row disable the endpoint. At least once: a process that dies after
the receiver answered but before the record is written sends it again after the lease,
with the same `webhook-id`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx2
from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

import metrics
from documents.outbox import ABANDONED, QUEUED, SENT
from documents.webhook import WebhookDelivery, WebhookEndpointRecord
from mail.outbox import RECORD_RETENTION, claim_due, retry_delay
from security import clock
from security.events import SecurityEvents
from security.keyring import WEBHOOK_PAYLOADS, KeyRing, Unsealable

from .addresses import AddressRefused, Target, resolve
from .endpoints import EndpointStore
from .events import SESSION_REVOKED
from .signing import message_id, signed_headers

logger = logging.getLogger("authql.webhooks")

# Deliveries in flight per process; at most one of them per endpoint.
CONCURRENCY = 16
TIMEOUT_SECONDS = 10.0
# What is read of a receiver's answer: its status is what counts.
RESPONSE_BYTES = 4096


class Person(Protocol):
    """What every event says of its person (a User document, or an id and address)."""

    @property
    def id(self) -> Any: ...

    @property
    def email(self) -> str: ...


class Webhooks:
    def __init__(
        self,
        deliveries: AsyncCollection[Any],
        endpoints: EndpointStore,
        ring: KeyRing,
        events: SecurityEvents,
        client: httpx2.AsyncClient,
        *,
        retry_base_seconds: float,
        max_attempts: int,
        disable_after_failures: int,
        allow_private: bool,
        lease_seconds: float,
        poll_seconds: float,
    ) -> None:
        self._deliveries = deliveries
        self.endpoints = endpoints
        self._ring = ring
        self._events = events
        self._client = client
        self._retry_base = retry_base_seconds
        self._max_attempts = max_attempts
        self._disable_after = disable_after_failures
        self._allow_private = allow_private
        self._lease_ms = int(lease_seconds * 1000)
        self._poll_seconds = poll_seconds
        self._owner = secrets.token_hex(8)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[ObjectId, tuple[str, asyncio.Task[None]]] = {}

    async def sessions_ended(self, person: Person, ended: list[str]) -> None:
        """`session.revoked` for sessions ended early, in bulk or one by one (none: nothing)."""
        if ended:
            await self.emit(SESSION_REVOKED, person, sessions=ended)

    async def emit(
        self, event: str, person: Person, profile: dict[str, Any] | None = None, **data: Any
    ) -> int:
        """Queue `event` about `person` for every endpoint that takes it; how many were queued.
        `profile`: more of `data.user` (webhooks/payloads.py), `data`: what else the event
        says (never a secret). Never raises: the change it reports is made already."""
        try:
            endpoints = await self.endpoints.subscribed(event)
            if not endpoints:
                return 0
            body = {
                "type": event,
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "data": {"user": {"id": str(person.id), "email": person.email, **(profile or {})}, **data},
            }
            encoded = json.dumps(body, separators=(",", ":"), default=str).encode()
            now = clock.now_ms()
            records = []
            for endpoint in endpoints:
                record_id = ObjectId()
                records.append(
                    WebhookDelivery(
                        id=record_id,
                        endpoint_id=str(endpoint.id),
                        event=event,
                        webhook_id=message_id(),
                        sealed=self._ring.seal(WEBHOOK_PAYLOADS, encoded, str(record_id).encode()),
                        created_ms=now,
                        due_ms=now,
                    ).model_dump(by_alias=True)
                )
            await self._deliveries.insert_many(records)
        except (PyMongoError, OSError) as error:
            self._events.emit(
                "webhook_event_lost", type=event, user=str(person.id), error=type(error).__name__
            )
            return 0
        self._wake.set()
        return len(records)

    async def start(self) -> None:
        # Its indexes are built with the others (documents/migrate.py), before any worker starts.
        self._task = asyncio.create_task(self._run(), name="authql webhook sender")

    async def stop(self) -> None:
        """Claim nothing more, give the tries in flight their timeout, release the rest."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        in_flight = list(self._in_flight)
        tasks = [task for _, task in self._in_flight.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=TIMEOUT_SECONDS + 1)
        for task in tasks:
            task.cancel()
        try:
            await self._deliveries.update_many(
                {"_id": {"$in": in_flight}, "state": QUEUED, "claimed_by": self._owner},
                {"$set": {"lease_ms": 0, "claimed_by": None}},
            )
        except PyMongoError:
            logger.warning("webhooks: could not release claims at shutdown; they expire after the lease")

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._claim_more()
            except PyMongoError as error:
                logger.warning("webhooks: MongoDB unavailable (%s); retrying", type(error).__name__)
            except Exception:
                logger.exception("webhooks: sender error; retrying")
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            except TimeoutError:
                pass

    async def _claim_more(self) -> None:
        while len(self._in_flight) < CONCURRENCY and not self._stopping:
            busy = [endpoint for endpoint, _ in self._in_flight.values()]
            record = await claim_due(
                self._deliveries,
                self._owner,
                self._lease_ms,
                {"endpoint_id": {"$nin": busy}} if busy else None,
            )
            if record is None:
                return
            task = asyncio.create_task(self._deliver(record), name="authql webhook delivery")
            self._in_flight[record["_id"]] = (record["endpoint_id"], task)
            task.add_done_callback(lambda _, record_id=record["_id"]: self._done(record_id))

    def _done(self, record_id: ObjectId) -> None:
        self._in_flight.pop(record_id, None)
        self._wake.set()  # a slot (and its endpoint) is free again

    async def _deliver(self, record: dict[str, Any]) -> None:
        try:
            await self._try(record)
        except PyMongoError as error:
            logger.warning(
                "webhooks: MongoDB unavailable (%s); the try ends with its lease", type(error).__name__
            )
        except Exception:
            logger.exception("webhooks: delivery error; the try ends with its lease")

    async def _try(self, record: dict[str, Any]) -> None:
        endpoint = await self.endpoints.get(record["endpoint_id"])
        if endpoint is None or not endpoint.enabled:
            reason = "the endpoint was deleted" if endpoint is None else "the endpoint is disabled"
            await self._abandon(record, reason)
            return
        try:
            body = self._ring.open(WEBHOOK_PAYLOADS, record["sealed"], str(record["_id"]).encode())
        except (Unsealable, KeyError, TypeError):
            await self._abandon(record, "the sealed body does not open (its data key retired?)")
            return
        started = time.monotonic()
        error = await self._send(endpoint, record["webhook_id"], body)
        metrics.WEBHOOK_SECONDS.labels(record["endpoint_id"]).observe(time.monotonic() - started)
        if error is None:
            # Counted first, the record last: whoever sees it sent sees the rest done.
            metrics.WEBHOOK_DELIVERIES.labels(record["endpoint_id"], "delivered").inc()
            await self.endpoints.delivered(record["endpoint_id"])
            await self._finish(record, SENT, record.get("last_error"))
            return
        if await self.endpoints.failed(record["endpoint_id"], self._disable_after):
            self._events.emit("webhook_endpoint_disabled", endpoint=record["endpoint_id"], error=error)
        attempts = int(record["attempts"])
        if attempts >= self._max_attempts:
            await self._abandon(record, error)
            return
        delay = retry_delay(self._retry_base, attempts)
        await self._deliveries.update_one(
            {"_id": record["_id"], "claimed_by": self._owner},
            {
                "$set": {
                    "due_ms": clock.now_ms() + int(delay * 1000),
                    "lease_ms": 0,
                    "claimed_by": None,
                    "last_error": error,
                }
            },
        )
        metrics.WEBHOOK_DELIVERIES.labels(record["endpoint_id"], "retried").inc()
        logger.warning(
            "webhooks: %s to endpoint %s not delivered (try %d of %d): %s",
            record["event"],
            record["endpoint_id"],
            attempts,
            self._max_attempts,
            error,
        )

    async def _send(self, endpoint: WebhookEndpointRecord, webhook_id: str, body: bytes) -> str | None:
        """POST the signed body to the endpoint's checked address; None if a 2xx came back,
        else what went wrong (no secret in it)."""
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                target = await resolve(endpoint.url, allow_private=self._allow_private)
                headers = signed_headers(self.endpoints.signing_secrets(endpoint), webhook_id, body)
                headers["host"] = target.host
                headers["user-agent"] = "authql-webhooks"
                response = await self._connect(target, headers, body)
                try:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= RESPONSE_BYTES:
                            break
                finally:
                    await response.aclose()
        except AddressRefused as refused:
            return f"refused: {refused}"
        except TimeoutError:
            return f"no answer within {TIMEOUT_SECONDS:g} s"
        except httpx2.HTTPError as failure:
            return f"request failed: {type(failure).__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"answered {response.status_code}"

    async def _connect(self, target: Target, headers: dict[str, str], body: bytes) -> httpx2.Response:
        """The answer's head from the first checked address that takes the connection."""
        server_name = target.host.rsplit(":", 1)[0].strip("[]") if target.url.port else target.host
        for index, url in enumerate(target.urls):
            request = self._client.build_request(
                "POST", url, content=body, headers=headers, extensions={"sni_hostname": server_name}
            )
            try:
                return await self._client.send(request, stream=True, follow_redirects=False)
            except httpx2.ConnectError:
                if index == len(target.urls) - 1:
                    raise
        raise AssertionError("resolve() answers at least one address")

    async def _abandon(self, record: dict[str, Any], error: str) -> None:
        metrics.WEBHOOK_DELIVERIES.labels(record["endpoint_id"], "abandoned").inc()
        self._events.emit(
            "webhook_abandoned",
            endpoint=record["endpoint_id"],
            type=record["event"],
            webhook_id=record["webhook_id"],
            attempts=int(record["attempts"]),
            error=error,
        )
        await self._finish(record, ABANDONED, error)

    async def _finish(self, record: dict[str, Any], state: str, error: str | None) -> None:
        """Kept a week without its body (a whole replace: `expires_at` is a datetime)."""
        done = WebhookDelivery(
            id=record["_id"],
            state=state,
            endpoint_id=record["endpoint_id"],
            event=record["event"],
            webhook_id=record["webhook_id"],
            created_ms=record["created_ms"],
            due_ms=record["due_ms"],
            attempts=record["attempts"],
            last_error=error,
            finished_ms=clock.now_ms(),
            expires_at=datetime.now(UTC) + RECORD_RETENTION,
        )
        replaced = await self._deliveries.replace_one(
            {"_id": record["_id"], "claimed_by": self._owner}, done.model_dump(by_alias=True)
        )
        if replaced.matched_count == 0:
            logger.warning("webhooks: a claim expired while its delivery was tried; it may be sent twice")
