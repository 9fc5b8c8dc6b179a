"""The defences, as plain async Python with no GraphQL, one module each: password
hashing (`passwords`, in a bounded pool), the password policy and the NFKC forms it is
hashed in (`password_policy`, `password_forms`), access tokens and their signing keys
(`tokens`, `keys`), the data keys every HMAC and sealed value derives from (`keyring`),
what a bearer token is worth (`identity`, with the in-process user copies of
`user_cache`), sessions, one-time codes (`codes/`: the flows and what they may cost), the
windowed counter their budgets share (`counters`), two-factor (`two_factor`), the client
address (`client_ip`) and the clients an account signed in from (`known_clients`),
per-IP limits (`rate_limits`), the password lockout (`lockout`), security events
(`events`), and whether Redis is still the server it was and takes writes
(`redis_watch`, `redis_health`)."""
