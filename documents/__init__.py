"""Beanie documents and their indexes."""

from documents.user import User

DOCUMENT_MODELS = [User]

__all__ = ["DOCUMENT_MODELS", "User"]
