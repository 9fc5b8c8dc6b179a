"""The HTTP surface, one module per job: `middleware` (body and head limits, the hang-up
watch), `gate` (what a GraphQL request may be: one decision for both executors),
`documents` (parsed documents, bounded, shared by both executors), `graphql` (the
Strawberry view and the short way), `routes` (health, JWKS, metrics, GraphiQL files).
`server.py` composes them. Nothing is built at import."""
