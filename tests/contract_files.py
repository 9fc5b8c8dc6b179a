"""The kept contract files (tests/contract/) as the schema tests read them.

roles.graphql extends the sign-in unions of core, sessions, account, social and passkeys.
It is read together with those of them kept here; an `extend union` of a union no kept file
defines (social sign-in, passkeys: not built yet) is left out until its file joins.
admin.graphql is the separate admin schema's contract."""

from __future__ import annotations

import re
from pathlib import Path

CONTRACT = Path(__file__).resolve().parent / "contract"
ADMIN = "admin.graphql"
ROLES = "roles.graphql"
ROLES_BASES = ("core.graphql", "sessions.graphql", "account.graphql", "social.graphql", "passkeys.graphql")
EXTEND_UNION = re.compile(r"^extend union (\w+) = .*$", re.MULTILINE)


def roles_contract() -> tuple[str, list[str]]:
    """The kept bases and roles.graphql as one document, and the unions left out."""
    bases = "\n".join((CONTRACT / name).read_text() for name in ROLES_BASES if (CONTRACT / name).exists())
    defined = set(re.findall(r"^union (\w+)", bases, re.MULTILINE))
    left_out: list[str] = []

    def keep(match: re.Match[str]) -> str:
        if match.group(1) in defined:
            return match.group(0)
        left_out.append(match.group(1))
        return ""

    return bases + "\n" + EXTEND_UNION.sub(keep, (CONTRACT / ROLES).read_text()), left_out


def public_contract() -> str:
    """Every kept public contract file as one document (roles.graphql as above)."""
    others = sorted(
        path
        for path in CONTRACT.glob("*.graphql")
        if path.name not in (ADMIN, ROLES) and path.name not in ROLES_BASES
    )
    return "\n".join([roles_contract()[0], *(path.read_text() for path in others)])
