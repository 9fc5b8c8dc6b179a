"""The GraphQL surface. Type modules are leaves; `schema.root` binds them to resolvers.

The root is not in this `__init__`: resolvers import type modules (`schema.user`),
and a root here would make every such import pull in all resolvers, a cycle.
"""
