"""Beanie documents and their indexes."""

from documents.outbox import OutboxMail
from documents.session import Session
from documents.user import User

DOCUMENT_MODELS = [User, Session, OutboxMail]

__all__ = ["DOCUMENT_MODELS", "OutboxMail", "Session", "User"]
