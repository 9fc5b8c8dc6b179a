"""Whether an account keeps a way to sign in once one is removed: a password, a linked
social identity or a passkey. Unlinking an identity and removing a passkey ask it before
the removal and again after it (two removals racing could each count the other's)."""

from __future__ import annotations

from beanie import PydanticObjectId

from documents.identity import SocialIdentity
from documents.passkey import Passkey
from documents.user import User


async def other_way_in(
    user_id: PydanticObjectId | None,
    *,
    leaving_identity: SocialIdentity | None = None,
    leaving_passkey: Passkey | None = None,
) -> bool:
    """Whether the account can still sign in without `leaving_identity` or `leaving_passkey`
    (read from MongoDB now, not from a kept copy)."""
    fresh = await User.get(user_id)
    if fresh is not None and fresh.has_password:
        return True
    owner = str(user_id)
    identities = await SocialIdentity.find(SocialIdentity.user_id == owner).to_list()
    if any(leaving_identity is None or each.id != leaving_identity.id for each in identities):
        return True
    passkeys = await Passkey.find(Passkey.user_id == owner).to_list()
    return any(leaving_passkey is None or each.id != leaving_passkey.id for each in passkeys)
