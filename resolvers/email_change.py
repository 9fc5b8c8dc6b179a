"""Changing the account's email, proven by a code mailed to the new address.

1. startEmailChange (signed in, the current password, counted into the lockout, and with
   two-factor on the second factor too): a code to the new address and a notice to the
   current one. A new address that
   already has an account gets the same answer and a mail saying so, without a code.
2. confirmEmailChange (signed in as the same user): the code, once; the address
   changes in one conditional write, where the unique email index decides a race
   (AccountExists). The old address gets a notice and no longer names the account;
   the sessions go on.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from pymongo.errors import DuplicateKeyError
from strawberry.types import Info

from documents.fields import InvalidValue, normalize_email
from documents.user import UserChanged, UserGone
from mail import (
    email_change_account_exists_message,
    email_change_code_message,
    email_change_requested_message,
    email_changed_message,
)
from resolvers.auth.reauthentication import SecondFactorAgain, confirm_password, confirm_second_factor
from resolvers.auth.signin import public_user
from resolvers.emailed_codes import MailFor, mails, open_flow, prove_code
from schema.arguments import CurrentPassword
from schema.context import Context, Unauthenticated
from schema.email_change import (
    ConfirmEmailChangeResult,
    EmailChanged,
    EmailChangeStarted,
    StartEmailChangeResult,
)
from schema.problems import AccountExists, flow_expired, invalid_input
from security.codes import CodeIssued, FlowNotFound
from webhooks import events

INPUT_NAME = "newEmail"


async def start_email_change(
    info: Info[Context, None],
    new_email: Annotated[
        str, strawberry.argument(description="The address to move the account to; the code is mailed to it.")
    ],
    password: CurrentPassword,
    code: SecondFactorAgain = None,
) -> StartEmailChangeResult:
    context = info.context
    user = await context.current_user()
    # The address first: a typo costs no password attempt.
    try:
        address = normalize_email(new_email)
    except InvalidValue as error:
        return invalid_input({INPUT_NAME: str(error)})
    if address == user.email:
        return invalid_input({INPUT_NAME: "This is already the account's address."})
    refused = await confirm_password(
        context,
        user,
        password,
        operation="startEmailChange",
        event="email_change",
    )
    if refused is not None:
        return refused
    refused = await confirm_second_factor(context, user, code, operation="startEmailChange")
    if refused is not None:
        return refused
    issued = await open_flow(
        context,
        context.services.email_changes,
        address,
        codes_for_account_holders=False,
        mail=_mails(context),
        input_name=INPUT_NAME,
        fields={"user_id": str(user.id), "old_email": user.email},
        notices=[email_change_requested_message(user.email, address)],
    )
    if not isinstance(issued, CodeIssued):
        return issued
    context.security_event("email_change_started", email=user.email, user=str(user.id))
    return EmailChangeStarted(
        change_id=strawberry.ID(issued.flow_id),
        expires_at=issued.expires_at,
        resend_available_at=issued.resend_available_at,
        code_length=context.services.email_changes.code_length,
    )


async def confirm_email_change(
    info: Info[Context, None],
    change_id: Annotated[
        strawberry.ID, strawberry.argument(description="EmailChangeStarted.changeId of the change.")
    ],
    code: Annotated[
        str,
        strawberry.argument(description="The digits of the code mailed to the new address (spaces ignored)."),
    ],
) -> ConfirmEmailChangeResult:
    context = info.context
    user = await context.current_user()
    changes = context.services.email_changes
    # Another user's change is unknown here, and costs its owner no attempt.
    try:
        started = await changes.peek(change_id)
    except FlowNotFound:
        return flow_expired()
    if started.get("user_id") != str(user.id):
        return flow_expired()
    proven = await prove_code(context, changes, change_id, code, flow="email_change")
    if not isinstance(proven, tuple):
        return proven
    _, flow = proven
    await changes.finish(flow)
    old_email = user.email
    user_id = str(user.id)
    outbox = context.services.outbox
    # The notice to the old address is queued first, held: whatever fails after the
    # write below (the second stamp in Redis, this process), it goes out; if the write
    # is not made, it is withdrawn (or, should that fail too, it says a change that did
    # not happen: the safe way round).
    notice = await outbox.enqueue(
        email_changed_message(old_email, flow.email), hold_seconds=NOTICE_HOLD_SECONDS
    )
    # Only while the address is still the one the change started from; the unique
    # index refuses an address another account took meanwhile (or in a concurrent confirm).
    try:
        await user.write_changes(
            {"email": flow.email},
            announce=context.services.users,
            require={"email": flow.fields["old_email"]},
        )
    except DuplicateKeyError:
        await outbox.withdraw(notice)
        context.security_event("email_change_conflict", email=flow.email, user=user_id)
        return AccountExists(message="Another account has this address now; nothing was changed.")
    except UserGone:
        await outbox.withdraw(notice)
        raise Unauthenticated() from None
    except UserChanged:  # another change moved the address since this one started
        await outbox.withdraw(notice)
        return flow_expired()
    await outbox.release(notice)
    context.security_event(
        "email_changed",
        email=flow.email,
        user=user_id,
        previous=context.services.events.fingerprint(old_email),
    )
    await context.services.webhooks.emit(events.EMAIL_CHANGED, user, previous_email=old_email)
    return EmailChanged(user=public_user(user))


# How long the notice waits for the write it tells of (a few backend timeouts at most);
# a process that dies in between leaves it to go out after this.
NOTICE_HOLD_SECONDS = 120


def _mails(context: Context) -> MailFor:
    return mails(context, email_change_code_message, email_change_account_exists_message)
