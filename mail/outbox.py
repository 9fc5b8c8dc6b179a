"""The durable outbox: every mail is queued in MongoDB and sent by a loop in each process.

A request only writes the mail (sealed, mail/sealing.py) next to the code it issues and
answers; SMTP is never on its path. Each app process runs one sender. Senders share the
collection through a lease: a mail is claimed atomically (`find_one_and_update` on
due, unclaimed or claim expired), so two processes never work on one mail at once, and a
claim left by a process that died is taken over once it expires. A failed try puts the
mail back with an exponential, jittered delay; after `max_attempts` it is abandoned.
Delivery is at least once: a process that dies after SMTP accepted a mail but before
recording it sends it again after the lease.

Sent and abandoned records lose their sealed body and keep only what an operator needs.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

import metrics
from documents.outbox import ABANDONED, QUEUED, SENT, OutboxMail
from logs import RequestInfo, current_request, current_request_id
from security import clock

from .errors import MailUnavailable
from .message import Mailer, MailMessage
from .sealing import MailSeal, Unsealable

logger = logging.getLogger("authql.mail.outbox")

# What to do once a mail is done (delivered: True, abandoned: False), e.g. promote a
# resent code; its arguments travel sealed with the mail.
FollowUp = Callable[[dict[str, str], bool], Awaitable[None]]
# Logs a security event (security/events.py).
Emit = Callable[..., None]

RECORD_RETENTION = timedelta(days=7)
# Jitter from the OS, not the shared `random` state other code may seed or watch.
JITTER = random.SystemRandom()
LONGEST_RETRY_SECONDS = 3600.0
# The depth and age gauges are read from MongoDB (two queries) at most this often: not
# each time the queue drains, which under steady mail is after every mail.
MEASURE_EVERY_SECONDS = 1.0


class Outbox:
    def __init__(
        self,
        collection: AsyncCollection[Any],
        mailer: Mailer,
        *,
        seal: MailSeal,
        fingerprint: Callable[[str], str],
        emit: Emit,
        follow_up: FollowUp,
        max_attempts: int,
        retry_seconds: float,
        lease_seconds: float,
        poll_seconds: float,
        send_timeout_seconds: float,
    ) -> None:
        self._collection = collection
        self._mailer = mailer
        self._seal = seal
        self._fingerprint = fingerprint
        self._emit = emit
        self._follow_up = follow_up
        self._max_attempts = max_attempts
        self._retry_seconds = retry_seconds
        self._lease_ms = int(lease_seconds * 1000)
        self._poll_seconds = poll_seconds
        self._send_timeout = send_timeout_seconds
        self._owner = secrets.token_hex(8)  # this sender's name on its claims
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._claimed: ObjectId | None = None  # the mail in hand, released if we stop
        self._measured_at = float("-inf")  # monotonic time of the gauges' last reading

    async def enqueue(
        self,
        message: MailMessage,
        *,
        follow_up: dict[str, str] | None = None,
        once: str | None = None,
        hold_seconds: float = 0,
    ) -> ObjectId:
        """Queue `message` for delivery (raises if MongoDB cannot take it) and wake the sender;
        its id.

        `once`: a key naming the event the mail reports (e.g. which recovery code was
        spent); a mail with the same key already queued (or sent, for RECORD_RETENTION)
        makes this call queue nothing. So a notice can be queued before the change it
        reports: requests racing to make that change queue one notice between them.
        `hold_seconds`: not sent before then unless `release`d (or `withdraw`n): a notice
        queued before the change it tells of, so no failure after the change loses it."""
        record_id = ObjectId() if once is None else ObjectId(hashlib.sha256(once.encode()).digest()[:12])
        now = clock.now_ms()
        mail = {"to": message.to, "subject": message.subject, "text": message.text, "html": message.html}
        record = OutboxMail(
            id=record_id,
            template=message.template,
            recipient=self._fingerprint(message.to),
            sealed=self._seal.seal(str(record_id), {"mail": mail, "follow_up": follow_up}),
            created_ms=now,
            due_ms=now + int(hold_seconds * 1000),
            request_id=current_request_id(),
        )
        try:
            await self._collection.insert_one(record.model_dump(by_alias=True))
        except DuplicateKeyError:
            if once is None:
                raise
            return record_id  # queued already by the request that reported this event first
        self._wake.set()
        return record_id

    async def release(self, record_id: ObjectId) -> None:
        """Send a held mail now (the change it tells of was made)."""
        await self._collection.update_one(
            {"_id": record_id, "state": QUEUED}, {"$set": {"due_ms": clock.now_ms()}}
        )
        self._wake.set()

    async def withdraw(self, record_id: ObjectId) -> None:
        """Drop a held mail that was not tried yet (the change it tells of was not made)."""
        await self._collection.delete_one({"_id": record_id, "state": QUEUED, "attempts": 0})

    async def start(self) -> None:
        # Its indexes are built with the others (documents/migrate.py), before any worker starts.
        self._task = asyncio.create_task(self._run(), name="authql outbox sender")

    async def stop(self) -> None:
        """Take no new mail, let the one in hand finish (bounded), then release our claims."""
        self._stopping = True
        self._wake.set()
        held = self._claimed  # the loop exits after this one: it claims nothing new
        if self._task is not None:
            if held is None:
                self._task.cancel()  # idle, or waiting on MongoDB: nothing in hand to finish
            try:
                await asyncio.wait_for(self._task, self._send_timeout + 1)
            except (TimeoutError, asyncio.CancelledError):
                pass  # cancelled; its claim is released below
            self._task = None
        try:
            await self._mailer.aclose()  # the kept SMTP connection, if any
        except Exception:
            logger.warning("outbox: the mailer did not close cleanly")
        if held is None:
            return
        try:
            # Matches nothing if the try finished (sent, or put back for a retry).
            await self._collection.update_one(
                {"_id": held, "state": QUEUED, "claimed_by": self._owner},
                {"$set": {"lease_ms": 0, "claimed_by": None}},
            )
        except PyMongoError:
            logger.warning("outbox: could not release a claim at shutdown; it expires after the lease")

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                if await self._deliver_next():
                    continue
                await self._measure()
            except PyMongoError as error:
                logger.warning("outbox: MongoDB unavailable (%s); retrying", type(error).__name__)
            except Exception:
                logger.exception("outbox: sender error; retrying")
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
            except TimeoutError:
                pass

    async def _deliver_next(self) -> bool:
        """Claim one due mail and try it; False when none is due."""
        record = await claim_due(self._collection, self._owner, self._lease_ms)
        if record is None:
            return False
        self._claimed = record["_id"]
        # Log lines about the mail carry the id of the request that queued it.
        request_id = record.get("request_id")
        context = current_request.set(RequestInfo(request_id, time.monotonic()) if request_id else None)
        try:
            await self._deliver(record)
        finally:
            current_request.reset(context)
            self._claimed = None
        return True

    async def _deliver(self, record: dict[str, Any]) -> None:
        try:
            content = self._seal.open(str(record["_id"]), record["sealed"])
        except (Unsealable, KeyError, TypeError):
            await self._abandon(record, "the sealed mail does not open (its data key retired?)", None)
            return
        mail: dict[str, str] = content["mail"]
        follow_up: dict[str, str] | None = content.get("follow_up")
        try:
            await self._mailer.send(MailMessage(template=record["template"], **mail))
        except MailUnavailable as error:
            await self._failed(record, str(error), follow_up)
            return
        except Exception as error:  # a mailer bug must not stop the sender or lose the mail
            await self._failed(record, f"mailer error: {type(error).__name__}", follow_up)
            return
        # First the follow-up (a resent code replaces the old one), then the record: a
        # mail recorded as sent has had its effect.
        await self._run_follow_up(follow_up, delivered=True)
        await self._finish(record, SENT, record.get("last_error"))
        metrics.MAILS_SENT.inc()

    async def _failed(self, record: dict[str, Any], error: str, follow_up: dict[str, str] | None) -> None:
        attempts = int(record["attempts"])
        if attempts >= self._max_attempts:
            await self._abandon(record, error, follow_up)
            return
        delay = retry_delay(self._retry_seconds, attempts)
        await self._collection.update_one(
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
        metrics.MAILS_RETRIED.inc()
        logger.warning(
            "outbox: %s not sent (try %d of %d): %s", record["template"], attempts, self._max_attempts, error
        )

    async def _abandon(self, record: dict[str, Any], error: str, follow_up: dict[str, str] | None) -> None:
        await self._run_follow_up(follow_up, delivered=False)
        await self._finish(record, ABANDONED, error)
        metrics.MAILS_ABANDONED.inc()
        self._emit(
            "mail_abandoned",
            template=record["template"],
            recipient=record["recipient"],
            attempts=int(record["attempts"]),
            error=error,
        )

    async def _finish(self, record: dict[str, Any], state: str, error: str | None) -> None:
        """The record as kept from now on: no body, only what an operator needs. A whole
        replace, not `$set`: `expires_at` is a datetime (see documents/outbox.py)."""
        now = clock.now_ms()
        done = OutboxMail(
            id=record["_id"],
            state=state,
            template=record["template"],
            recipient=record["recipient"],
            created_ms=record["created_ms"],
            due_ms=record["due_ms"],
            attempts=record["attempts"],
            last_error=error,
            finished_ms=now,
            request_id=record.get("request_id"),
            expires_at=datetime.now(UTC) + RECORD_RETENTION,
        )
        replaced = await self._collection.replace_one(
            {"_id": record["_id"], "claimed_by": self._owner},
            done.model_dump(by_alias=True),
        )
        if replaced.matched_count == 0:
            logger.warning("outbox: a claim expired while its mail was being sent; it may be sent twice")

    async def _run_follow_up(self, follow_up: dict[str, str] | None, *, delivered: bool) -> None:
        if follow_up is None:
            return
        try:
            await self._follow_up(follow_up, delivered)
        except Exception as error:  # the mail is out (or given up) whatever its follow-up does
            logger.warning("outbox: follow-up failed: %s", type(error).__name__)

    async def _measure(self) -> None:
        """The outbox's depth and the age of its oldest queued mail, for the metrics."""
        if time.monotonic() - self._measured_at < MEASURE_EVERY_SECONDS:
            return
        self._measured_at = time.monotonic()
        depth = await self._collection.count_documents({"state": QUEUED})
        oldest = await self._collection.find_one(
            {"state": QUEUED}, projection={"created_ms": 1}, sort=[("created_ms", 1)]
        )
        metrics.OUTBOX_DEPTH.set(depth)
        age = (clock.now_ms() - int(oldest["created_ms"])) / 1000 if oldest else 0.0
        metrics.OUTBOX_OLDEST_SECONDS.set(max(age, 0.0))


# The lease machinery, shared with the webhook deliveries (webhooks/deliveries.py): the same
# claim, the same backoff, on a collection of their own.


async def claim_due(
    collection: AsyncCollection[Any], owner: str, lease_ms: int, also: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Claim the oldest due record not claimed by a live lease (and matching `also`), counting
    the try; None when none is due. Atomic: two senders never claim one record."""
    now = clock.now_ms()
    due: dict[str, Any] = {"state": QUEUED, "due_ms": {"$lte": now}, "lease_ms": {"$lte": now}}
    record: dict[str, Any] | None = await collection.find_one_and_update(
        {**due, **(also or {})},
        {"$set": {"lease_ms": now + lease_ms, "claimed_by": owner}, "$inc": {"attempts": 1}},
        sort=[("due_ms", 1)],
        return_document=ReturnDocument.AFTER,
    )
    return record


def retry_delay(first_seconds: float, attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: doubled each time, at most
    an hour, with jitter so the retries of one outage spread out."""
    delay = min(first_seconds * 2 ** (attempts - 1), LONGEST_RETRY_SECONDS)
    return delay * JITTER.uniform(0.75, 1.25)
