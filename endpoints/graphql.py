"""The GraphQL view: Strawberry's ASGI view behind the gate (endpoints/gate.py), with
JSON errors, a per-request Context, and the short way for the common request.

The short way: Strawberry's view spends about a fifth of a signed-in read on
per-request machinery (fresh extension objects and their hooks, an execution context,
a sub-response) that does nothing for a document already known to be valid. A plain
JSON POST whose prepared document is valid and names one operation to run is executed
here straight on graphql-core, as Strawberry's own `Schema.execute` does. Anything else
takes Strawberry's way, with the same prepared document, so every refusal keeps the one
wording and status it has always had.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import HTTPException, StarletteRequestAdapter
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, execute
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp
from strawberry.asgi import GraphQL
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.types import ExecutionResult

import metrics
from endpoints.documents import UNPLANNED, Document, Documents
from endpoints.errors import refused
from endpoints.gate import Gate, GraphQLRequest, answers_one_json, asks_for_page
from endpoints.middleware import BodyReadError
from endpoints.plans import Fallback, Plan, outcome_middleware, plain_result, plan_for
from graphiql.page import graphiql_page
from schema.context import Context
from schema.error_codes import ErrorCode
from schema.errors import classify
from schema.root import AuthqlSchema, GatedDocument, Limits, build_schema
from security.rate_limits import RateLimits

if TYPE_CHECKING:
    from services import Services
    from settings import Settings

logger = logging.getLogger("authql.errors")


class ReadBody:
    """A JSON body the gate already parsed, handed to Strawberry's parsing in place of bytes."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


class GateRequestAdapter(StarletteRequestAdapter):
    """Strawberry's view of a request: the body it asks for is the one the gate parsed."""

    async def get_body(self) -> bytes:
        request = self._request
        if isinstance(request, GraphQLRequest) and request.json_body is not None:
            return ReadBody(request.json_body)  # type: ignore[return-value] # decode_json takes it
        return await request.body()


class GraphQLEndpoint(GraphQL):
    """Strawberry's ASGI view, with JSON error bodies, a per-request Context, the gate,
    the short way, and the schema limits, GraphiQL and introspection switches of `settings`."""

    request_adapter_class = GateRequestAdapter

    def __init__(self, services: Services) -> None:
        settings = services.settings
        schema = self.build_schema(limits_of(settings))
        super().__init__(
            schema,
            graphql_ide="graphiql" if self.graphiql_on(settings) else None,
            allow_queries_via_get=True,  # queries only: Strawberry refuses mutations over GET
        )
        self.settings = settings
        self.hide_schema = not limits_of(settings).introspection
        self.documents = Documents(
            schema, settings.max_operations, settings.max_fragments, settings.document_cache_bytes
        )
        rate_limits = RateLimits(services.redis, {"documents": settings.rate_limit_documents})
        self.gate = Gate(settings, self.documents, rate_limits, self.answer_error)
        self.prepared = PreparedOperations(schema)

    def build_schema(self, limits: Limits) -> AuthqlSchema:
        return build_schema(limits)

    def graphiql_on(self, settings: Settings) -> bool:
        return bool(settings.graphiql)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = GraphQLRequest(scope, receive=receive)
        try:
            response = (
                await self.gate.check(request) or await self.run_prepared(request) or await self.run(request)
            )
        except ClientDisconnect:
            return  # the client hung up mid-body: nobody to answer, nothing worth a log line
        except BodyReadError as error:
            response = error.response()
        except HTTPException as error:
            code = ErrorCode.NOT_FOUND if error.status_code == 404 else ErrorCode.BAD_REQUEST
            response = refused(error.status_code, error.reason, code)
        except RecursionError:
            # JSON (or a value in it) nested deeper than Python's stack: a bad request, not a crash.
            response = refused(400, "The request is nested too deeply.", ErrorCode.BAD_REQUEST)
        except Exception:
            # Outside GraphQL execution (request parsing, say): still a JSON error.
            logger.exception("unexpected error while handling %s %s", request.method, request.url.path)
            response = refused(500, "Internal server error", ErrorCode.INTERNAL_SERVER_ERROR)
        await response(scope, receive, send)

    async def run_prepared(self, request: GraphQLRequest) -> Response | None:
        """The answer by the short way for a plain JSON POST of a valid document that names
        one operation, or None: Strawberry's `run` answers everything else."""
        document, body = request.document, request.json_body
        if document is None or not isinstance(body, dict) or not answers_one_json(request):
            return None
        variables = body.get("variables")
        operation_name, extensions = body.get("operationName"), body.get("extensions")
        if not (
            isinstance(variables, dict | None)
            and isinstance(operation_name, str | None)
            and isinstance(extensions, dict | None)
            and document.runs(operation_name)
        ):
            return None
        context = await self.get_context(request, None)
        result = await self.prepared.execute(document, context, variables, operation_name, extensions)
        if not result.errors and not result.extensions:  # what process_result makes of it, directly
            return Response(self.encode_json({"data": result.data}), 200, media_type="application/json")
        data = await self.process_result(request, result)  # type: ignore[arg-type]
        status_code = 400 if is_request_error(data) else 200
        return Response(self.encode_json(data), status_code, media_type="application/json")

    async def answer_error(self, request: GraphQLRequest, error: GraphQLError) -> Response:
        """A document that does not parse, or is refused by its shape: Strawberry's answer to it."""
        data = await self.process_result(request, ExecutionResult(data=None, errors=[error]))
        return Response(self.encode_json(data), 400, media_type="application/json")

    def decode_json(self, data: str | bytes | ReadBody) -> object:
        """The body the gate already parsed (GateRequestAdapter); else a parse."""
        if isinstance(data, ReadBody):
            return data.value
        return json.loads(data)  # a GET's `variables`: the standard library's verdict, as ever

    def encode_json(self, data: object) -> bytes:
        """orjson: several times faster than json.dumps on every answer. (A string that
        UTF-8 cannot encode never gets here: the gate refused it.)"""
        return orjson.dumps(data)

    def should_render_graphql_ide(self, request: Any) -> bool:
        return asks_for_page(request._request, self.graphiql_on(self.settings))

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        """Our own GraphiQL page (files served from /graphiql/, no CDN) instead of Strawberry's."""
        return graphiql_page()

    async def get_context(self, request: Any, response: Any) -> Context:  # type: ignore[override]
        address, bucket = self.gate.client(request)
        return Context(
            request=request, client_ip=address, client_bucket=bucket, services=request.app.state.services
        )

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [classify(error, self.hide_schema) for error in result.errors]
            for error in result.errors:
                if error.path is None and error.extensions:  # nothing ran (root fields count their own)
                    metrics.REQUESTS_REFUSED.labels(str(error.extensions["code"])).inc()
        return await super().process_result(request, result)

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if isinstance(response_data, dict) and is_request_error(response_data):
            response.status_code = 400
        return response


def limits_of(settings: Settings) -> Limits:
    """What one document may ask for, from the settings."""
    return Limits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        introspection=bool(settings.introspection),
    )


# The schema extensions the short way knows it may skip: each does its work another way
# there (the rules are in the prepared document's validation, the token limit in its parse).
KNOWN_EXTENSIONS = (AddValidationRules, MaxTokensLimiter, GatedDocument)


class PreparedOperations:
    """The short way's execution of a prepared document, as Strawberry's own executes it."""

    def __init__(self, schema: AuthqlSchema) -> None:
        extensions = [ext.func if isinstance(ext, partial) else ext for ext in schema.extensions]
        if sorted(map(id, extensions)) != sorted(map(id, KNOWN_EXTENSIONS)) or schema.directives:
            # An extension added later (error masking, tracing, an audit hook) would be
            # skipped on the common path without a word: teach the short way about it first.
            raise RuntimeError(f"the short way does not know the schema's extensions: {extensions}")
        self._schema = schema._schema  # the graphql-core schema Strawberry built, resolvers wrapped
        self._strawberry = schema
        # Strawberry's execution context class, passed as Strawberry passes it.
        self._executor = execution_context_class_kwargs(schema.execution_context_class)

    async def execute(
        self,
        document: Document,
        context: object,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        extensions: dict[str, Any] | None,
    ) -> GraphQLExecutionResult:
        plan = document.plan
        if plan is UNPLANNED:
            plan = document.plan = plan_for(self._schema, document.node, self._strawberry)
        if plan is not None:
            return await self._run_plan(plan, document, context, variables, operation_name, extensions)
        return await self._execute(document, context, variables, operation_name, extensions)

    async def _run_plan(
        self,
        plan: Plan,
        document: Document,
        context: object,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        extensions: dict[str, Any] | None,
    ) -> GraphQLExecutionResult:
        """The planned document (endpoints/plans.py): its field's resolver called here, its
        plain outcome answered here, any other completed by graphql-core as ever."""
        info = plan.info(self._schema, context, extensions, optimized_is_awaitable)
        try:
            result = plan.call(info)
            if optimized_is_awaitable(result):
                result = await result
        except Exception as error:
            middleware = outcome_middleware(error=error)
        else:
            try:
                return plain_result(plan.complete(result))
            except Fallback:
                middleware = outcome_middleware(value=result)
        return await self._execute(document, context, variables, operation_name, extensions, [middleware])

    async def _execute(
        self,
        document: Document,
        context: object,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        extensions: dict[str, Any] | None,
        middleware: list[Any] | None = None,
    ) -> GraphQLExecutionResult:
        result = execute(
            self._schema,
            document.node,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
            is_awaitable=optimized_is_awaitable,
            operation_extensions=extensions,
            middleware=middleware,
            **self._executor,
        )
        if isawaitable(result):
            result = await result
        return result  # type: ignore[return-value]


def is_request_error(response_data: GraphQLHTTPResponse) -> bool:
    """A syntax or validation error: nothing ran, so the request itself was bad."""
    errors = response_data.get("errors") or []
    return response_data.get("data") is None and bool(errors) and all("path" not in e for e in errors)


def graphql_app(services: Services, view_class: type[GraphQLEndpoint] = GraphQLEndpoint) -> ASGIApp:
    """The GraphQL view, behind CORS when CORS_ORIGINS names any origin."""
    settings: Settings = services.settings
    view = view_class(services)
    if not settings.cors_origin_list:
        return view
    return CORSMiddleware(
        view,
        allow_origins=settings.cors_origin_list,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
