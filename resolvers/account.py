"""Deleting the account: the password once more (and, with two-factor on, the second
factor), then the user and every session go."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from documents.identity import SocialIdentity
from documents.passkey import Passkey
from resolvers.auth.reauthentication import SecondFactorAgain, confirm_password, confirm_second_factor
from schema.account import AccountDeleted, DeleteAccountResult
from schema.arguments import CurrentPassword
from schema.context import Context
from webhooks import events


async def delete_account(
    info: Info[Context, None],
    password: CurrentPassword,
    code: SecondFactorAgain = None,
) -> DeleteAccountResult:
    context = info.context
    user = await context.current_user()
    refused = await confirm_password(
        context,
        user,
        password,
        operation="deleteAccount",
        event="delete_account",
    )
    if refused is not None:
        return refused
    refused = await confirm_second_factor(context, user, code, operation="deleteAccount")
    if refused is not None:
        return refused
    user_id = str(user.id)
    # Sessions first: if the process dies between the two, no token outlives the intent.
    await context.services.sessions.revoke_all(user_id)
    await user.remove(announce=context.services.users)
    # Its provider identities and passkeys go with it (one left behind is removed at its
    # next sign-in).
    await SocialIdentity.find(SocialIdentity.user_id == user_id).delete()
    await Passkey.find(Passkey.user_id == user_id).delete()
    context.security_event("account_deleted", user=user_id)
    await context.services.webhooks.emit(events.USER_DELETED, user)
    return AccountDeleted(id=strawberry.ID(user_id))
