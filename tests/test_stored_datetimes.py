"""What a write answers is what later reads return, timezone included (nx-27017 turns
datetimes written with `$set` into strings, so every write is a whole-document replace)."""

from datetime import datetime

from flows import ME, UPDATE_PROFILE, data, register

REFRESH = """mutation($token: String!) { refreshTokens(refreshToken: $token) {
  __typename ... on AuthPayload { refreshToken } } }"""
SESSIONS = "query { sessions { id current createdAt lastUsedAt expiresAt } }"


def aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no timezone"
    return parsed


async def test_profile_update_time_reads_back_unchanged_and_aware(client, mailbox):
    registered = await register(client, mailbox)
    token = registered["accessToken"]
    updated = await data(client, UPDATE_PROFILE, {"input": {"firstName": "Grace"}}, token=token)
    me = await data(client, ME, token=token)
    assert me["updatedAt"] == updated["user"]["updatedAt"]
    assert aware(me["updatedAt"]) >= aware(me["createdAt"])


async def test_refreshed_session_times_read_back_aware(client, mailbox):
    registered = await register(client, mailbox)
    await data(client, REFRESH, {"token": registered["refreshToken"]})
    (session,) = await data(client, SESSIONS, token=registered["accessToken"])
    assert aware(session["lastUsedAt"]) >= aware(session["createdAt"])
    assert aware(session["expiresAt"]) > aware(session["lastUsedAt"])
