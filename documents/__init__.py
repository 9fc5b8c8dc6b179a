"""Beanie documents and their indexes."""

from documents.identity import SocialIdentity
from documents.outbox import OutboxMail
from documents.passkey import Passkey
from documents.session import Session
from documents.user import User

# OutboxMail is not bound: the outbox works on its own collection (OUTBOX_COLLECTION)
# with plain pymongo calls and only uses the class to shape and index its records.
DOCUMENT_MODELS = [User, Session, SocialIdentity, Passkey]

__all__ = ["DOCUMENT_MODELS", "OutboxMail", "Passkey", "Session", "SocialIdentity", "User"]
