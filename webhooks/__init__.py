"""Webhooks: signed events about accounts, sent to the operator's endpoints through a
durable queue (the outbox's lease machinery), with retries, SSRF rules and metrics."""
