"""Passwords, access tokens and one-time codes: plain async Python, no GraphQL."""
