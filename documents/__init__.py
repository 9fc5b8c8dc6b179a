"""Beanie documents and their indexes."""

from documents.session import Session
from documents.user import User

DOCUMENT_MODELS = [User, Session]

__all__ = ["DOCUMENT_MODELS", "Session", "User"]
