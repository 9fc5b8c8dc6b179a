"""L8: the user a request gets from the process's cache is its own, lists included: a
change to it in place never reaches the kept copy the next request is served."""

from __future__ import annotations

from beanie import PydanticObjectId
from conftest import serve_app
from flows import register

from documents.user import User


async def test_a_change_to_a_served_copy_in_place_leaves_the_kept_copy_as_loaded(settings, mailbox):
    async with serve_app(settings) as (client, app):
        registered = await register(client, mailbox)
        user_id, session_id = registered["user"]["id"], registered["sessionId"]
        users = app.state.services.users
        live_key = app.state.services.sessions.live_key(user_id, session_id)

        _, stamp = await users.check(live_key, user_id)
        await users.keep(user_id, stamp, None)  # no stamp yet: this sets one
        _, stamp = await users.check(live_key, user_id)
        loaded = await User.get(PydanticObjectId(user_id))
        assert loaded is not None
        loaded.recovery_codes = ["kept"]
        await users.keep(user_id, stamp, loaded)
        loaded.recovery_codes.append("changed after keep")

        served = users.get(user_id, stamp)
        assert served is not None and served.recovery_codes == ["kept"]
        served.recovery_codes.append("changed by a request")
        served.recovery_codes[0] = "overwritten"
        again = users.get(user_id, stamp)
        assert again is not None and again.recovery_codes == ["kept"]
