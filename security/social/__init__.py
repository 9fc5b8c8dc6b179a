"""Social sign-in: the configured providers (config), talking to them (providers), and
the flow's single-use records in Redis (flows). The linking rules are resolvers/social.py's."""
