"""Arguments several mutations take, each described once for the schema."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.problems import PASSWORD_RULES

CurrentPassword = Annotated[
    str, strawberry.argument(description="The current password of the account, asked again to confirm.")
]
NewPassword = Annotated[str, strawberry.argument(description=f"The new password: {PASSWORD_RULES}")]
MailedCode = Annotated[
    str, strawberry.argument(description="The digits of the mailed code (surrounding spaces are ignored).")
]
