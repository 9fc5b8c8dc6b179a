"""/admin/graphql: the admin schema (schema/admin_root.py) behind the same gate as /graphql
(body parsed once, the document cache, the per-IP limit on new documents, the depth, alias
and token limits), with its own context (the admin key, schema/admin_context.py), the
offline GraphiQL page always on (its files under /admin/graphiql/), introspection on, and
no CORS: it is called by scripts and by the page it serves itself. A 404 when
ADMIN_API_KEY is unset."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from endpoints.errors import error_response
from endpoints.graphql import GraphQLEndpoint
from endpoints.routes import GraphiQLFiles
from schema.admin_context import AdminContext
from schema.admin_root import build_admin_schema
from schema.error_codes import ErrorCode
from schema.root import AuthqlSchema, Limits

if TYPE_CHECKING:
    from services import Services
    from settings import Settings

ADMIN_OFF = "The admin API is off on this server (ADMIN_API_KEY is not set)."


class AdminGraphQLEndpoint(GraphQLEndpoint):
    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.hide_schema = False

    def build_schema(self, limits: Limits) -> AuthqlSchema:
        return build_admin_schema(replace(limits, introspection=True))

    def graphiql_on(self, settings: Settings) -> bool:
        return True

    async def get_context(self, request: Any, response: Any) -> AdminContext:  # type: ignore[override]
        address, bucket = self.gate.client(request)
        return AdminContext(
            request=request, client_ip=address, client_bucket=bucket, services=request.app.state.services
        )


def admin_graphql_app(services: Services) -> AdminGraphQLEndpoint | None:
    """The admin view, or None with the admin API off."""
    return AdminGraphQLEndpoint(services) if services.admin_keys.enabled else None


class AdminGraphQLRoute:
    """/admin/graphql: the admin view built at start-up, or 404 without ADMIN_API_KEY."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = getattr(scope["app"].state, "admin_graphql", None)
        if view is None:
            await error_response(404, ADMIN_OFF, ErrorCode.NOT_FOUND)(scope, receive, send)
            return
        await view(scope, receive, send)


class AdminGraphiQLFiles(GraphiQLFiles):
    """/admin/graphiql/<file>: the GraphiQL page's files for the admin page (whose relative
    links point here), served while the admin API is on."""

    def enabled(self, settings: Settings) -> bool:
        return settings.admin_api_key is not None
