"""fastapi-users 15 with its Beanie backend, as its documentation sets it up: the reference for
`GET /users/me` (JWT bearer, one user read), registration and login.

Runs in the reference environment (bench/requirements-reference.txt), never in authql's:

    MONGO_URL=... MONGO_DB=... JWT_SECRET=... uvicorn bench.apps.fastapi_users_app:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from beanie import Document, PydanticObjectId, init_beanie
from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.db import BeanieBaseUser, BeanieUserDatabase, ObjectIDIDMixin
from pymongo import AsyncMongoClient

SECRET = os.environ["JWT_SECRET"]
LIFETIME_SECONDS = 86_400


class User(BeanieBaseUser, Document):
    pass


class UserRead(schemas.BaseUser[PydanticObjectId]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


class UserManager(ObjectIDIDMixin, BaseUserManager[User, PydanticObjectId]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_db() -> AsyncIterator[BeanieUserDatabase[User]]:
    yield BeanieUserDatabase(User)


async def get_user_manager(
    user_db: BeanieUserDatabase[User] = Depends(get_user_db),  # noqa: B008 - FastAPI's idiom
) -> AsyncIterator[UserManager]:
    yield UserManager(user_db)


def get_jwt_strategy() -> JWTStrategy[User, PydanticObjectId]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=LIFETIME_SECONDS)


backend = AuthenticationBackend(
    name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"), get_strategy=get_jwt_strategy
)
fastapi_users = FastAPIUsers[User, PydanticObjectId](get_user_manager, [backend])


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(os.environ["MONGO_URL"])
    await init_beanie(database=client[os.environ["MONGO_DB"]], document_models=[User])
    yield
    await client.close()


app = FastAPI(lifespan=lifespan)
app.include_router(fastapi_users.get_auth_router(backend), prefix="/auth/jwt", tags=["auth"])
app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"])
app.include_router(fastapi_users.get_users_router(UserRead, UserCreate), prefix="/users", tags=["users"])
