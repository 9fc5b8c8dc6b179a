from flows import LOGIN, ME, PASSWORD, data, register


async def test_register_login_me(client, mailbox):
    payload = await register(client, mailbox)
    email = payload["user"]["email"]
    login = await data(client, LOGIN, {"email": email.upper(), "password": PASSWORD})
    assert login["__typename"] == "AuthPayload"
    me = await data(client, ME, token=login["accessToken"])
    assert me["email"] == email
    assert me["phone"] == "+442079460018"
