"""The defences, as plain async Python with no GraphQL: password hashing, access tokens
and the key ring, what a bearer token is worth, sessions, one-time codes (`codes/`: the flows
and what they may cost), the windowed counter their budgets share, the client address,
the clients an account signed in from, per-IP limits, the password lockout and security
events."""
