"""The account: one document per person, unique by lower-cased email."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from beanie import Document
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError


def utc_now() -> datetime:
    # Mongo keeps milliseconds; truncating here makes what we answer equal what we store.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# The password hash of an account without a password (made by social sign-in): no
# password matches it, after the same work as a wrong one (security/password_forms.py).
NO_PASSWORD = ""


class UserChanged(Exception):
    """The account changed since it was read in a way the write depended on, or is gone
    (UserGone)."""


class UserGone(UserChanged):
    """The account was deleted since it was read."""


class UserWrites(Protocol):
    """Told around every write to a user, so copies kept elsewhere go stale
    (security/user_cache.py): a required argument, so no write can forget it."""

    def changing(self, user_id: str) -> AbstractAsyncContextManager[None]: ...


class User(Document):
    # Stored lower-cased: the unique index, not a collation, makes emails case-insensitive.
    email: str
    password_hash: str
    first_name: str
    last_name: str
    phone: str | None = None
    created_at: datetime
    updated_at: datetime
    # Bumped by every password change, reset and "log out everywhere". Sessions and access
    # tokens carry the version they were opened under; an older one is refused.
    credential_version: int = 0
    # Two-factor (security/two_factor.py). On while `totp_secret` is set: the TOTP secret,
    # sealed. An enrolment waiting for its first code is `totp_pending` until the epoch
    # second `totp_pending_expires` (ints: nx-27017 turns datetimes given to $set into
    # strings). `totp_last_step`: the last time step whose code was accepted (each is
    # accepted once). `recovery_codes`: keyed hashes of the unused recovery codes.
    totp_secret: str | None = None
    totp_pending: str | None = None
    totp_pending_expires: int = 0
    totp_last_step: int = 0
    recovery_codes: list[str] = []
    # Whether the address is known to be its owner's: proven by an emailed code (every
    # registration), a sign-in, or a provider that verified it. False only for an account
    # made for someone (by an operator) that nobody signed into yet: a provider's verified
    # address must not link itself into it (resolvers/social.py).
    email_proven: bool = True
    # The WebAuthn user handle of the account's passkeys (base64url of 32 random bytes), made
    # at its first passkey registration: never the email or the database id, so an
    # authenticator learns nothing about the account from it.
    passkey_user_handle: str | None = None
    # Set only through the admin API (resolvers/admin/): copied into every access token
    # issued afterwards as the claims `roles` and `app_metadata`.
    roles: list[str] = []
    app_metadata: dict[str, Any] = {}
    # Disabled by an operator: sign-in answers AccountDisabled once the person proved
    # themselves. `disabled_until`: the epoch second it opens by itself (0: until enabled;
    # an int, as nx-27017 turns datetimes given to $set into strings).
    disabled: bool = False
    disabled_until: int = 0
    disabled_reason: str | None = None
    # The epoch second of the last sign-in (resolvers/auth/signin.py), for operators.
    last_sign_in_at: int = 0

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_secret is not None

    @property
    def recovery_codes_left(self) -> int:
        """Unused recovery codes; 0 when two-factor is off."""
        return len(self.recovery_codes) if self.two_factor_enabled else 0

    def disabled_now(self, now: float) -> bool:
        """Whether sign-in is refused at epoch second `now` (a time-limited disable ends by itself)."""
        return self.disabled and (self.disabled_until == 0 or self.disabled_until > now)

    @property
    def has_password(self) -> bool:
        """False for an account made by social sign-in that never set one (NO_PASSWORD)."""
        return bool(self.password_hash)

    class Settings:
        name = "users"
        use_revision = False
        indexes = [
            IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
            # The admin API's listing (resolvers/admin/users.py): keyset pages in _id order,
            # one index per filter besides the email prefix (email_unique serves it). Not
            # compound with _id: nx-27017 cannot index _id beside another field.
            IndexModel([("roles", ASCENDING)], name="admin_by_role"),
            IndexModel([("disabled", ASCENDING)], name="admin_by_status"),
            IndexModel([("created_at", ASCENDING)], name="admin_by_created"),
        ]

    async def write_changes(
        self,
        changes: Mapping[str, Any],
        *,
        announce: UserWrites,
        new_credentials: bool = False,
        touch: bool = True,
        require: Mapping[str, Any] | None = None,
        pull: Mapping[str, Any] | None = None,
    ) -> None:
        """Store `changes` (field name -> value) and only them, in one write that lands
        only while the stored document still holds `require` (what the change was
        decided on); then hold what is stored. `announce` learns of the write before and
        after it (every process's kept copy of the user goes stale). `new_credentials` ends
        every session opened before (see `credential_version`); `touch` sets `updated_at`;
        `pull` (field name -> value) removes that value from a list field. Raises
        UserChanged when `require` no longer holds, UserGone when the account is gone,
        DuplicateKeyError when a unique index (the email's) refuses the change.

        Fields nobody changed are never written, so a stale copy cannot bring an old
        value back, and unrelated writes never conflict. `$set` carries no datetime
        (nx-27017 would store it as a string): `updated_at` comes from `$currentDate`.
        """
        update: dict[str, Any] = {}
        if new_credentials:
            update["$inc"] = {"credential_version": 1}
        if changes:
            update["$set"] = dict(changes)
        if pull:
            update["$pull"] = dict(pull)
        if touch:
            update["$currentDate"] = {"updated_at": True}
        condition = {name: _matching(name, value) for name, value in (require or {}).items()}
        collection = self.get_pymongo_collection()
        async with announce.changing(str(self.id)):
            stored = await collection.find_one_and_update(
                {"_id": self.id, **condition}, update, return_document=ReturnDocument.AFTER
            )
        if stored is None:
            if await collection.find_one({"_id": self.id}, {"_id": 1}) is None:
                raise UserGone()
            if await collection.find_one({"_id": self.id, **condition}, {"_id": 1}) is not None:
                # It matched, yet nothing was written: a unique index refused the change.
                # MongoDB raises that (E11000); nx-27017's findAndModify answers null instead.
                raise DuplicateKeyError("a unique index refused the change", code=11000)
            raise UserChanged()
        self._take(User.model_validate(stored))

    def _take(self, stored: User) -> None:
        for name in User.model_fields:
            setattr(self, name, getattr(stored, name))

    async def remove(self, *, announce: UserWrites) -> None:
        """Delete the account; `announce` as in `write_changes`."""
        async with announce.changing(str(self.id)):
            await self.delete()

    @classmethod
    async def by_email(cls, email: str) -> User | None:
        return await cls.find_one(cls.email == email)


def _matching(name: str, value: Any) -> Any:
    """A filter for `value`: documents written before the counters existed match as 0."""
    return {"$in": [0, None]} if name in COUNTERS and value == 0 else value


COUNTERS = ("credential_version",)
