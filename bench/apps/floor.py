"""The floor: a bare Starlette app doing what authql's `{ me { id email } }` cannot do without.

PyJWT decodes authql's own access token (same secret, issuer and audience) and Beanie reads
the same user document from authql's `users` collection; the answer is the same JSON.
No GraphQL, no revocation check, no middleware: what is left is the price of the stack.

    MONGO_URL=... MONGO_DB=... JWT_SECRET=... uvicorn bench.apps.floor:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import jwt
from beanie import Document, PydanticObjectId, init_beanie
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class User(Document):
    """The two fields `me { id email }` asks for; Beanie ignores the rest of authql's document."""

    email: str

    class Settings:
        name = "users"


async def me(request: Request) -> JSONResponse:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return JSONResponse({"detail": "Unauthorized"}, status_code=401)
    try:
        claims = jwt.decode(
            token,
            os.environ["JWT_SECRET"],
            algorithms=["HS256"],
            issuer=os.environ.get("JWT_ISSUER", "authql"),
            audience=os.environ.get("JWT_AUDIENCE", "authql"),
        )
    except jwt.InvalidTokenError:
        return JSONResponse({"detail": "Unauthorized"}, status_code=401)
    user = await User.get(PydanticObjectId(claims["sub"]))
    if user is None:
        return JSONResponse({"detail": "Unauthorized"}, status_code=401)
    return JSONResponse({"id": str(user.id), "email": user.email})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(os.environ["MONGO_URL"])
    await init_beanie(database=client[os.environ["MONGO_DB"]], document_models=[User])
    yield
    await client.close()


app = Starlette(routes=[Route("/me", me)], lifespan=lifespan)
