"""The ceiling: the least a Python server can do for a signed-in read and still check it.

A bare Starlette app on uvicorn (uvloop, h11, no access log) that reads the body,
verifies the bearer JWT with PyJWT (authql's own token: same secret, issuer and
audience), keeps what it verified (and the user's email, read once from authql's
`users` collection) as authql keeps both, makes one Redis round trip per request for the
session's live key (authql's `live-session:{<user>}:<sid>`, the same Redis), and answers
authql's JSON with orjson. No GraphQL, no middleware, no logs, ids or metrics: what is
left is the price of Python, the server and one Redis round trip.

    REDIS_URL=... MONGO_URL=... MONGO_DB=... JWT_SECRET=... \
        uvicorn bench.apps.ceiling:app --loop uvloop --http h11 --no-access-log
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import jwt
import orjson
from bson import ObjectId
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

UNAUTHORIZED = Response(b'{"detail":"Unauthorized"}', 401, media_type="application/json")
# token -> (session id, the answer's bytes): verified once, as authql's Tokens keeps it
verified: dict[str, tuple[str, bytes]] = {}


async def me(request: Request) -> Response:
    await request.body()  # the GraphQL POST's body is read, as authql reads it
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return UNAUTHORIZED
    kept = verified.get(token)
    if kept is None:
        try:
            claims = jwt.decode(
                token,
                os.environ["JWT_SECRET"],
                algorithms=["HS256"],
                issuer=os.environ.get("JWT_ISSUER", "authql"),
                audience=os.environ.get("JWT_AUDIENCE", "authql"),
            )
        except jwt.InvalidTokenError:
            return UNAUTHORIZED
        user = await request.app.state.users.find_one({"_id": ObjectId(claims["sub"])}, {"email": 1})
        if user is None:
            return UNAUTHORIZED
        answer = {"data": {"me": {"id": claims["sub"], "email": user["email"]}}}
        kept = verified[token] = (f"live-session:{{{claims['sub']}}}:{claims['sid']}", orjson.dumps(answer))
    live_key, body = kept
    if not await request.app.state.redis.exists(live_key):
        return UNAUTHORIZED
    return Response(body, media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(os.environ["MONGO_URL"])
    app.state.users = mongo[os.environ["MONGO_DB"]]["users"]
    app.state.redis = Redis.from_url(os.environ["REDIS_URL"])
    yield
    await app.state.redis.aclose()
    await mongo.close()


app = Starlette(routes=[Route("/graphql", me, methods=["GET", "POST"])], lifespan=lifespan)
