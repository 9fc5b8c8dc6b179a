"""The data-key ring (security/keyring.py): every HMAC key and sealed value derives from
DATA_KEYS, not JWT_SECRET; values carry their key id, so a key rotates (README, "Rotating
keys") without signing anyone out or turning two-factor off; values from before data keys
still open. Over HTTP with the real Redis, nx-27017 and SMTP sink."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from typing import Any

import pymongo
import pytest
from conftest import Mailbox, serve_app, text_of
from conftest import test_settings as settings_with  # renamed so pytest does not collect it
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flows import PASSWORD, data, register
from test_two_factor import (
    CONFIRM,
    ENROLL,
    REFRESH,
    REGENERATE,
    challenge,
    step_start,
    verify,
)

from security.keyring import (
    EVENT_FINGERPRINTS,
    OUTBOX_MAIL,
    RECOVERY_CODES,
    REFRESH_GRACE,
    REFRESH_TOKENS,
    TOTP_SECRETS,
    DataKey,
    KeyRing,
    Unsealable,
    generate,
    load_dir,
)
from server import embedded_data_keys
from settings import ConfigurationError, Settings, load_settings

START_RESET = """mutation($email: String!) { startPasswordReset(email: $email) { __typename } }"""
RESET_SUBJECT_WORD = "reset"


def new_key() -> bytes:
    return os.urandom(32)


def entry(kid: str, key: bytes) -> str:
    return f"{kid}:{base64.b64encode(key).decode()}"


# ---------------------------------------------------------------- today's scheme, as it was


def old_seal(jwt_secret: str, label: str, record_id: str, value: bytes) -> str:
    """security/sealing.py at 49082bb: AES-GCM under HKDF(JWT_SECRET, info=label), no key id."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(
        jwt_secret.encode()
    )
    nonce = os.urandom(12)
    return base64.urlsafe_b64encode(nonce + AESGCM(key).encrypt(nonce, value, record_id.encode())).decode()


def old_hmac_key(jwt_secret: str, label: str) -> bytes:
    """Every HMAC key at 49082bb: HMAC-SHA256(JWT_SECRET, label)."""
    return hmac.new(jwt_secret.encode(), label.encode(), hashlib.sha256).digest()


def old_recovery_digest(jwt_secret: str, user_id: str, code: str) -> str:
    canonical = code.replace("-", "").upper()
    key = old_hmac_key(jwt_secret, RECOVERY_CODES)
    return hmac.new(key, f"{user_id}:{canonical}".encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- settings and the ring


def test_the_legacy_key_derives_exactly_as_before_data_keys():
    secret = "an old jwt secret of more than 32 bytes"
    ring = KeyRing([DataKey("legacy", secret.encode())])
    for label in (REFRESH_TOKENS, RECOVERY_CODES, EVENT_FINGERPRINTS):
        assert ring.derive(label) == old_hmac_key(secret, label), label
    for label in (TOTP_SECRETS, OUTBOX_MAIL):
        sealed = old_seal(secret, label, "record-1", b"value")
        assert ":" not in sealed
        assert ring.open(label, sealed, b"record-1") == b"value", label


def test_labels_and_keys_give_distinct_keys_and_sealed_values_name_their_key():
    ring = KeyRing([DataKey("k2", new_key()), DataKey("k1", new_key())])
    keys = {
        ring.derive(label, kid) for label in (TOTP_SECRETS, OUTBOX_MAIL, REFRESH_TOKENS) for kid in ring.ids
    }
    assert len(keys) == 6 and all(len(key) == 32 for key in keys)
    sealed = ring.seal(TOTP_SECRETS, b"secret", b"user-1")
    assert sealed.startswith("k2:") and ring.is_current(sealed)
    assert ring.open(TOTP_SECRETS, sealed, b"user-1") == b"secret"
    for label, aad in ((OUTBOX_MAIL, b"user-1"), (TOTP_SECRETS, b"user-2")):  # other purpose, other record
        with pytest.raises(Unsealable):
            ring.open(label, sealed, aad)
    with pytest.raises(Unsealable):  # its id pointed at another key
        ring.open(TOTP_SECRETS, "k1:" + sealed.partition(":")[2], b"user-1")
    older = KeyRing([DataKey("k1", ring.derive("unused", "k1"))])  # another ring: k1 is another key
    with pytest.raises(Unsealable):
        older.open(TOTP_SECRETS, sealed, b"user-1")


def test_a_value_sealed_for_a_holder_opens_only_with_what_it_holds():
    ring = KeyRing([DataKey("k1", new_key())])
    sealed = ring.seal(REFRESH_GRACE, b"next secret", b"session", holder=b"previous token")
    assert ring.open(REFRESH_GRACE, sealed, b"session", holder=b"previous token") == b"next secret"
    for holder in (None, b"another token"):
        with pytest.raises(Unsealable):
            ring.open(REFRESH_GRACE, sealed, b"session", holder=holder)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("k1:" + base64.b64encode(b"x" * 31).decode(), "32"),
        ("k/1:" + base64.b64encode(b"x" * 32).decode(), "id"),
        ("k1" + base64.b64encode(b"x" * 32).decode(), "id"),
        ("k1:not base64!", "base64"),
        ("k1:{0},k1:{0}".format(base64.b64encode(b"x" * 32).decode()), "unique"),
        (",".join(entry(f"k{n}", b"x" * 32) for n in range(9)), "more than 8"),
        (" , ", "no key"),
    ],
)
def test_bad_data_keys_are_refused_without_echoing_them(value, problem):
    with pytest.raises(ConfigurationError, match="DATA_KEYS") as raised:
        load_settings(_env_file=None, data_keys=value)
    assert problem in str(raised.value)
    assert base64.b64encode(b"x" * 32).decode() not in str(raised.value)


def test_data_keys_and_a_folder_together_are_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="not both"):
        load_settings(_env_file=None, data_keys=entry("k1", new_key()), data_keys_dir=tmp_path)


def test_with_data_keys_and_signing_keys_jwt_secret_is_not_needed(tmp_path):
    settings = load_settings(
        _env_file=None,
        mongo_url="mongodb://127.0.0.1:1",
        mailer="console",
        jwt_algorithm="EdDSA",
        jwt_keys_dir=tmp_path,
        data_keys=entry("k1", new_key()),
    )
    assert settings.jwt_secret is None and KeyRing.from_settings(settings).current_id == "k1"
    with pytest.raises(ConfigurationError, match="DATA_KEYS or DATA_KEYS_DIR"):
        load_settings(
            _env_file=None,
            mongo_url="mongodb://127.0.0.1:1",
            mailer="console",
            jwt_algorithm="EdDSA",
            jwt_keys_dir=tmp_path,
        )
    assert "k1:" not in repr(settings)  # the keys stay out of a logged settings object


def test_a_key_folder_names_its_keys_and_the_last_name_is_current(tmp_path):
    first = generate(tmp_path)
    time.sleep(0.001)
    second = generate(tmp_path)
    (tmp_path / "legacy").write_text(base64.b64encode(b"l" * 40).decode())
    (tmp_path / "legacy").chmod(0o600)
    ids = [key.id for key in load_dir(tmp_path)]
    assert ids == [second.name, first.name, "legacy"], ids  # `legacy` is always the oldest
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in (first, second))

    (tmp_path / "legacy").chmod(0o640)
    with pytest.raises(ConfigurationError, match="readable or writable by group or others"):
        load_dir(tmp_path)
    (tmp_path / "legacy").chmod(0o600)
    (tmp_path / "short").write_text(base64.b64encode(b"s" * 16).decode())
    (tmp_path / "short").chmod(0o600)
    with pytest.raises(ConfigurationError, match="short.*32"):
        load_dir(tmp_path)


def test_the_embedded_default_generates_a_data_key_and_keeps_the_old_secret_on_upgrade(tmp_path):
    fresh = embedded_data_keys(tmp_path / "fresh", "j" * 48, upgrading=False)
    [key] = load_dir(fresh)
    assert key.id != "legacy" and fresh.stat().st_mode & 0o777 == 0o700
    assert embedded_data_keys(tmp_path / "fresh", "j" * 48, upgrading=False) == fresh  # kept across restarts
    assert [each.id for each in load_dir(fresh)] == [key.id]

    upgraded = embedded_data_keys(tmp_path / "old", "j" * 48, upgrading=True)
    current, legacy = load_dir(upgraded)
    assert legacy.id == "legacy" and legacy.secret == b"j" * 48 and current.id != "legacy"


# ---------------------------------------------------------------- over the app


async def stored_user(settings: Settings, email: str) -> dict[str, Any]:
    mongo: pymongo.AsyncMongoClient[dict[str, Any]] = pymongo.AsyncMongoClient(settings.mongo_url)
    try:
        document = await mongo[settings.mongo_db]["users"].find_one({"email": email})
    finally:
        await mongo.close()
    assert document is not None
    return document


async def set_user_fields(settings: Settings, email: str, **fields: Any) -> None:
    mongo: pymongo.AsyncMongoClient[dict[str, Any]] = pymongo.AsyncMongoClient(settings.mongo_url)
    try:
        await mongo[settings.mongo_db]["users"].update_one({"email": email}, {"$set": fields})
    finally:
        await mongo.close()


async def outbox(settings: Settings) -> list[dict[str, Any]]:
    mongo: pymongo.AsyncMongoClient[dict[str, Any]] = pymongo.AsyncMongoClient(settings.mongo_url)
    try:
        return await mongo[settings.mongo_db][settings.outbox_collection].find().to_list()
    finally:
        await mongo.close()


async def outbox_settled(settings: Settings) -> None:
    deadline = time.monotonic() + 10
    while any(record["state"] == "queued" for record in await outbox(settings)):
        assert time.monotonic() < deadline, "the outbox never emptied"
        await asyncio.sleep(0.02)


async def enable_two_factor(client, mailbox: Mailbox, now: float) -> tuple[dict[str, Any], Any, list[str]]:
    """An account with two-factor on (confirmed with the step before `now`)."""
    import pyotp  # noqa: PLC0415

    registered = await register(client, mailbox)
    enrolled = await data(client, ENROLL, {"password": PASSWORD}, token=registered["accessToken"])
    assert enrolled["__typename"] == "TotpEnrollment", enrolled
    totp = pyotp.TOTP(enrolled["secret"])
    confirmed = await data(client, CONFIRM, {"code": totp.at(now - 30)}, token=registered["accessToken"])
    assert confirmed["__typename"] == "TotpEnabled", confirmed
    return registered, totp, confirmed["recoveryCodes"]


async def signed_in(client, email: str, code: str) -> dict[str, Any]:
    answer = await verify(client, await challenge(client, email), code)
    assert answer["__typename"] == "AuthPayload", answer
    return answer


async def refreshed(client, token: str) -> dict[str, Any]:
    answer = await data(client, REFRESH, {"token": token})
    assert answer["__typename"] == "AuthPayload", answer
    return answer


async def queue_reset_mail(client, app, email: str) -> None:
    """A reset mail queued while this app's sender is stopped: the next app delivers it."""
    await app.state.services.outbox.stop()
    answer = await data(client, START_RESET, {"email": email})
    assert answer["__typename"] == "PasswordResetStarted", answer


async def reset_mails(mailbox: Mailbox, email: str) -> list[str]:
    return [text_of(mail) for mail in mailbox.received(email) if RESET_SUBJECT_WORD in mail["Subject"]]


async def reset_mail_delivered(mailbox: Mailbox, email: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(await reset_mails(mailbox, email)) < count:
        assert time.monotonic() < deadline, "the queued mail was never delivered"
        await asyncio.sleep(0.02)


def kid(value: str) -> str:
    return value.partition(":")[0] if ":" in value else "(none)"


async def test_a_rotation_walked_end_to_end_signs_nobody_out(backend_urls, mailbox):
    """Key 1 seals and keys everything; key 2 comes first with key 1 kept (everything
    works, what is used is resealed under key 2); key 1 retires (everything still works)."""
    key1, key2 = new_key(), new_key()
    collection = "outbox_" + secrets.token_hex(6)
    one = settings_with(backend_urls, mailbox, data_keys=entry("k1", key1), outbox_collection=collection)
    now = await step_start()
    async with serve_app(one) as (client, app):
        registered, totp, codes = await enable_two_factor(client, mailbox, now)
        email = registered["user"]["email"]
        session = await signed_in(client, email, codes[0])  # a refresh token tagged under k1
        await outbox_settled(one)
        await queue_reset_mail(client, app, email)
    stored = await stored_user(one, email)
    assert kid(stored["totp_secret"]) == "k1" and {kid(each) for each in stored["recovery_codes"]} == {"k1"}
    [queued] = [record for record in await outbox(one) if record["state"] == "queued"]
    assert kid(queued["sealed"]) == "k1"

    rotated = one.model_copy(update={"data_keys": f"{entry('k2', key2)},{entry('k1', key1)}"})
    async with serve_app(rotated) as (client, _):
        await reset_mail_delivered(mailbox, email, 1)  # sealed under k1, opened after the rotation
        session = await refreshed(client, session["refreshToken"])  # tagged under k1
        await signed_in(client, email, totp.at(now))  # the TOTP secret sealed under k1
        stored = await stored_user(one, email)
        assert kid(stored["totp_secret"]) == "k2", stored["totp_secret"]  # resealed on use
        await signed_in(client, email, codes[1])  # a recovery code keyed under k1
        regenerated = await data(
            client, REGENERATE, {"password": PASSWORD, "code": codes[2]}, token=session["accessToken"]
        )
        assert regenerated["__typename"] == "RecoveryCodes", regenerated
        codes = regenerated["codes"]
    stored = await stored_user(one, email)
    assert {kid(each) for each in stored["recovery_codes"]} == {"k2"}

    retired = one.model_copy(update={"data_keys": entry("k2", key2)})
    async with serve_app(retired) as (client, app):
        session = await refreshed(client, session["refreshToken"])  # its last refresh tagged it under k2
        await signed_in(client, email, totp.at(now + 30))  # the next step: one step of drift
        await signed_in(client, email, codes[0])
        await queue_reset_mail(client, app, email)
    async with serve_app(retired) as (client, _):
        await reset_mail_delivered(mailbox, email, 2)
        me = await data(client, "query { me { email } }", token=session["accessToken"])
        assert me["email"] == email


async def test_a_jwt_secret_rotation_keeps_two_factor_and_sessions(backend_urls, mailbox):
    """N6: rotating JWT_SECRET (the answer to a leaked HS256 key) used to leave every TOTP
    secret and recovery code unopenable; with data keys it only re-signs access tokens."""
    keys = entry("k1", new_key())
    before = settings_with(backend_urls, mailbox, data_keys=keys)
    now = await step_start()
    async with serve_app(before) as (client, _):
        registered, totp, codes = await enable_two_factor(client, mailbox, now)
        email = registered["user"]["email"]
    after = before.model_copy(update={"jwt_secret": "a brand new jwt secret " + "y" * 32})
    async with serve_app(after) as (client, _):
        old_access = await client.post(
            "/graphql",
            json={"query": "query { me { email } }"},
            headers={"Authorization": f"Bearer {registered['accessToken']}"},
        )
        assert old_access.json().get("errors"), old_access.text  # signed under the old secret: refused
        payload = await refreshed(client, registered["refreshToken"])  # refresh tokens survive
        assert (await data(client, "query { me { email } }", token=payload["accessToken"]))["email"] == email
        await signed_in(client, email, totp.at(now))
        await signed_in(client, email, codes[0])


async def test_values_sealed_before_data_keys_still_open_after_the_upgrade(backend_urls, mailbox):
    """A deployment from before data keys: its TOTP secrets, recovery codes, queued mail and
    refresh tokens were sealed and keyed with JWT_SECRET and carry no key id. They open with
    no DATA_KEYS set (the implicit `legacy` key), and after moving to DATA_KEYS with the old
    secret kept as `legacy`, while JWT_SECRET itself changes."""
    old_secret = "the secret of a deployment before data keys " + secrets.token_hex(8)
    collection = "outbox_" + secrets.token_hex(6)
    before = settings_with(backend_urls, mailbox, jwt_secret=old_secret, outbox_collection=collection)
    now = await step_start()
    async with serve_app(before) as (client, app):
        registered, totp, codes = await enable_two_factor(client, mailbox, now)
        email, user_id = registered["user"]["email"], registered["user"]["id"]
        await outbox_settled(before)
        # What authql at 49082bb would have stored: values without a key id.
        await set_user_fields(
            before,
            email,
            totp_secret=old_seal(old_secret, TOTP_SECRETS, user_id, totp.secret.encode()),
            recovery_codes=[old_recovery_digest(old_secret, user_id, code) for code in codes],
        )
        await queue_reset_mail(client, app, email)
        [queued] = [record for record in await outbox(before) if record["state"] == "queued"]
        content = app.state.services.data_keys.open(
            OUTBOX_MAIL, queued["sealed"], str(queued["_id"]).encode()
        )
        await replace_sealed(
            before, queued["_id"], old_seal(old_secret, OUTBOX_MAIL, str(queued["_id"]), content)
        )
        # With no DATA_KEYS, the same server reads them (the `legacy` key is JWT_SECRET's).
        await signed_in(client, email, codes[0])
    assert json.loads(content)["mail"]["to"] == email

    upgraded = before.model_copy(
        update={
            "jwt_secret": "a new jwt secret after the upgrade " + "z" * 32,
            "data_keys": f"{entry('new', new_key())},legacy:{base64.b64encode(old_secret.encode()).decode()}",
        }
    )
    async with serve_app(upgraded) as (client, _):
        await reset_mail_delivered(mailbox, email, 1)
        await refreshed(client, registered["refreshToken"])  # tagged with JWT_SECRET's key, before
        await signed_in(client, email, totp.at(now))
        await signed_in(client, email, codes[1])
    stored = await stored_user(before, email)
    assert kid(stored["totp_secret"]) == "new"


async def replace_sealed(settings: Settings, record_id: Any, sealed: str) -> None:
    mongo: pymongo.AsyncMongoClient[dict[str, Any]] = pymongo.AsyncMongoClient(settings.mongo_url)
    try:
        await mongo[settings.mongo_db][settings.outbox_collection].update_one(
            {"_id": record_id}, {"$set": {"sealed": sealed}}
        )
    finally:
        await mongo.close()


async def test_a_value_under_a_retired_key_is_refused_not_a_crash(backend_urls, mailbox):
    """Retiring a key before its values were resealed: TOTP codes answer InvalidCode (the
    operator clears totp_secret, README), never a 500."""
    key1 = new_key()
    one = settings_with(backend_urls, mailbox, data_keys=entry("k1", key1))
    now = await step_start()
    async with serve_app(one) as (client, _):
        registered, totp, _ = await enable_two_factor(client, mailbox, now)
        email = registered["user"]["email"]
    retired = one.model_copy(update={"data_keys": entry("k2", new_key())})
    async with serve_app(retired) as (client, _):
        answer = await verify(client, await challenge(client, email), totp.at(now))
        assert answer["__typename"] == "InvalidCode", answer
        refused = await data(client, REFRESH, {"token": registered["refreshToken"]})
        assert refused["__typename"] != "AuthPayload", refused
