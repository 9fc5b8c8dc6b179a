"""The defences, as plain async Python with no GraphQL: password hashing, access tokens
and the key ring, what a bearer token is worth, sessions, one-time codes, the client
address, per-IP limits, the password lockout and security events."""
