"""A sign-in that loses the race against a password change answers no tokens (attack 9,
"dead tokens from lost races"): a login that verified the old password answers
InvalidCredentials, and a second-factor challenge opened before the change answers
FlowExpired, instead of an AuthPayload whose tokens are already refused."""

from __future__ import annotations

from typing import Any

import pymongo
from flows import PASSWORD, data
from test_races import (
    NEW_PASSWORD,
    by_change_password,
    by_password_reset,
    login,
    prepare,
    while_changing,
)
from test_two_factor import challenge, step_start, verify, with_two_factor

CHANGE_PASSWORD = """mutation($current: String!, $new: String!, $code: String) {
  changePassword(currentPassword: $current, newPassword: $new, code: $code) { __typename } }"""


async def stored_sessions(backend_urls: dict[str, str], settings: Any, user_id: str) -> list[dict[str, Any]]:
    mongo = pymongo.AsyncMongoClient(backend_urls["mongo_url"])
    try:
        return await mongo[settings.mongo_db]["sessions"].find({"user_id": user_id}).to_list()
    finally:
        await mongo.close()


async def test_a_challenge_opened_before_a_password_change_answers_flow_expired(client, mailbox):
    now = await step_start()
    registered, totp, recovery_codes = await with_two_factor(client, mailbox, now)
    email = registered["user"]["email"]
    opened = await challenge(client, email)
    # With two-factor on, the change asks for the factor too: a recovery code, so the
    # TOTP steps below stay unspent.
    changed = await data(
        client,
        CHANGE_PASSWORD,
        {"current": PASSWORD, "new": NEW_PASSWORD, "code": recovery_codes[0]},
        token=registered["accessToken"],
    )
    assert changed["__typename"] == "AuthPayload", changed

    answer = await verify(client, opened, totp.at(now))
    assert answer["__typename"] == "FlowExpired", answer
    # The new password's challenge still signs in (the code of the next step: the step's
    # own was spent by the answer above, whose session ended at once).
    assert (await verify(client, await challenge(client, email, NEW_PASSWORD), totp.at(now + 30)))[
        "__typename"
    ] == "AuthPayload"


async def test_logins_that_lose_the_race_against_a_change_answer_invalid_credentials(
    client, mailbox, backend_urls, settings
):
    """Logins with the old password in flight while it changes: whatever they answer, no
    session they opened outlives the change (a lost race used to leave its session stored,
    under the old credential version, and answer its dead tokens)."""
    for change in (by_change_password, by_password_reset) * 2:
        account = await prepare(client, mailbox, change)
        email = account["email"]
        changed, answers = await while_changing(
            change(client, mailbox, account), lambda _, email=email: login(client, email, PASSWORD)
        )
        assert {answer["__typename"] for answer in answers} <= {"AuthPayload", "InvalidCredentials"}
        sessions = await stored_sessions(backend_urls, settings, account["user"]["id"])
        assert [str(session["_id"]) for session in sessions] == [changed["sessionId"]], (
            "a login that lost the race left a session behind"
        )
