"""The GraphQL surface. Each domain module (`schema/login.py`, ...) holds its types and
builds its own Query and Mutation fields when asked (`mutations()`, `queries()`), bound to
its flow in resolvers/; `schema.root` merges them into the Schema.

The root is not in this `__init__`: resolvers import type modules (`schema.user`),
and a root here would make every such import pull in all resolvers, a cycle.
"""
