"""Configuration: safe bounds refuse to start, naming the variable; secrets rules."""

import pytest

from settings import ConfigurationError, load_settings

SECRET = "s" * 32


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    # Read from a directory without .env, and from a known environment.
    monkeypatch.chdir(tmp_path)
    for name in ("MONGO_URL", "REDIS_URL", "JWT_SECRET", "SMTP_HOST", "MAILER"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_match_the_design():
    settings = load_settings()
    assert (settings.host, settings.port, settings.mongo_db) == ("127.0.0.1", 8000, "authql")
    assert settings.access_token_ttl_seconds == 900
    assert settings.code_ttl_seconds == 600
    assert settings.code_max_attempts == 5
    assert settings.code_resend_cooldown_seconds == 60
    assert settings.codes_per_address_per_hour == 5
    assert settings.registration_ttl_seconds == 1800
    assert settings.code_length == 6
    assert settings.graphiql is True
    assert settings.mongo_url is None
    assert settings.jwt_leeway_seconds == 30
    assert settings.session_max_age_seconds == 90 * 24 * 3600
    assert (settings.mail_max_attempts, settings.mail_retry_seconds) == (8, 30)
    assert (settings.outbox_lease_seconds, settings.outbox_poll_seconds) == (60, 1)
    assert settings.outbox_collection == "outbox"
    assert (settings.webhook_retry_base_seconds, settings.webhook_max_attempts) == (5, 10)
    assert settings.webhook_disable_after_failures == 100
    assert settings.webhook_allow_private is False
    assert settings.hook_timeout_seconds == 2


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CODE_LENGTH", "5"),
        ("CODE_MAX_ATTEMPTS", "11"),
        ("CODE_MAX_ATTEMPTS", "0"),
        ("CODE_TTL_SECONDS", "3601"),
        ("CODE_RESEND_COOLDOWN_SECONDS", "0"),
        ("CODES_PER_ADDRESS_PER_HOUR", "1000"),
        ("ACCESS_TOKEN_TTL_SECONDS", "604800"),
        ("PORT", "70000"),
        ("SMTP_SECURITY", "plaintext-please"),
        ("ARGON2_MEMORY_KIB", "1024"),
        ("BODY_READ_TIMEOUT_SECONDS", "0"),
        ("BODY_READ_TIMEOUT_SECONDS", "600"),
        ("MAX_CONNECTIONS", "1"),
        ("CODE_FAILURES_PER_ADDRESS_PER_DAY", "4"),
        ("CODE_FAILURES_PER_ADDRESS_PER_DAY", "101"),
        ("MAILS_PER_HOUR", "0"),
        ("MAILS_PER_IP_PER_HOUR", "0"),
        ("JWT_LEEWAY_SECONDS", "121"),
        ("SESSION_MAX_AGE_SECONDS", "31536001"),
        # Shorter than the default REFRESH_TOKEN_TTL_SECONDS (30 days).
        ("SESSION_MAX_AGE_SECONDS", "86400"),
        ("LOG_FORMAT", "xml"),
        ("MAIL_MAX_ATTEMPTS", "0"),
        ("MAIL_MAX_ATTEMPTS", "21"),
        ("MAIL_RETRY_SECONDS", "0"),
        ("OUTBOX_POLL_SECONDS", "0"),
        ("OUTBOX_POLL_SECONDS", "61"),
        # Shorter than twice the default SMTP_TIMEOUT_SECONDS (10): a claim must outlast a send.
        ("OUTBOX_LEASE_SECONDS", "15"),
        ("OUTBOX_COLLECTION", "outbox; drop"),
        ("SMTP_IDLE_SECONDS", "301"),
        ("SMTP_LOCAL_HOSTNAME", "host\r\nRCPT TO:<x@example.com>"),
        ("WEBHOOK_RETRY_BASE_SECONDS", "0.5"),
        ("WEBHOOK_RETRY_BASE_SECONDS", "61"),
        ("WEBHOOK_MAX_ATTEMPTS", "0"),
        ("WEBHOOK_DISABLE_AFTER_FAILURES", "0"),
        ("HOOK_TIMEOUT_SECONDS", "0.05"),
        ("HOOK_TIMEOUT_SECONDS", "11"),
        ("HOOK_BEFORE_SIGN_UP_URL", "file:///etc/passwd"),
        # A hook URL without HOOK_SECRET: an unsigned call anyone could answer.
        ("HOOK_CUSTOM_CLAIMS_URL", "https://hooks.example/claims"),
        ("HOOK_SECRET", "not-a-whsec"),
    ],
)
def test_values_out_of_safe_bounds_are_refused_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings()


def test_a_one_second_resend_cooldown_is_allowed_for_tests(monkeypatch):
    monkeypatch.setenv("CODE_RESEND_COOLDOWN_SECONDS", "1")
    assert load_settings().code_resend_cooldown_seconds == 1


def test_short_jwt_secret_is_refused(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", "s" * 31)
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        load_settings()


def test_mongo_url_without_jwt_secret_is_refused(monkeypatch):
    monkeypatch.setenv("MONGO_URL", "mongodb://db.invalid:27017")
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        load_settings()


def test_mongo_url_with_jwt_secret_is_accepted(monkeypatch):
    monkeypatch.setenv("MONGO_URL", "mongodb://db.invalid:27017")
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("SMTP_HOST", "mail.invalid")
    settings = load_settings()
    assert settings.mongo_url is not None
    assert settings.mailer_kind == "smtp"


def test_outside_the_embedded_default_mail_is_never_printed_unless_asked(monkeypatch):
    monkeypatch.setenv("MONGO_URL", "mongodb://db.invalid:27017")
    monkeypatch.setenv("JWT_SECRET", SECRET)
    with pytest.raises(ConfigurationError, match="SMTP_HOST") as refused:
        load_settings()
    assert "MAILER=console" in str(refused.value)
    monkeypatch.setenv("MAILER", "console")
    assert load_settings().mailer_kind == "console"


def test_the_embedded_default_prints_mail_and_smtp_host_chooses_smtp(monkeypatch):
    assert load_settings().mailer_kind == "console"
    monkeypatch.setenv("SMTP_HOST", "mail.invalid")
    assert load_settings().mailer_kind == "smtp"
    monkeypatch.setenv("MAILER", "console")  # chosen explicitly, even with SMTP_HOST
    assert load_settings().mailer_kind == "console"


def test_mailer_smtp_needs_smtp_host_and_only_two_mailers_exist(monkeypatch):
    monkeypatch.setenv("MAILER", "smtp")
    with pytest.raises(ConfigurationError, match="MAILER=smtp needs SMTP_HOST"):
        load_settings()
    monkeypatch.setenv("MAILER", "sendmail")
    with pytest.raises(ConfigurationError, match="MAILER"):
        load_settings()


def test_mail_and_code_budgets(monkeypatch):
    settings = load_settings()
    assert settings.code_failures_per_address_per_day == 20
    assert settings.mails_per_ip_per_hour == 50 < settings.mails_per_hour
    # A small deployment may cap all mail at a handful an hour: stricter, not weaker.
    monkeypatch.setenv("MAILS_PER_HOUR", "1")
    monkeypatch.setenv("MAILS_PER_IP_PER_HOUR", "1")
    assert (load_settings().mails_per_hour, load_settings().mails_per_ip_per_hour) == (1, 1)


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("CODE_TTL_SECONDS=300\nGRAPHIQL=false\n")
    settings = load_settings()
    assert settings.code_ttl_seconds == 300
    assert settings.graphiql is False


def test_graphiql_and_introspection_are_on_only_in_the_embedded_default(monkeypatch):
    embedded = load_settings()
    assert embedded.graphiql is True and embedded.introspection is True
    # `python server.py` fills in the embedded MongoDB's URL after loading: still the default.
    filled = embedded.model_copy(update={"mongo_url": "mongodb://127.0.0.1:1", "jwt_secret": SECRET})
    assert filled.graphiql is True and filled.introspection is True

    monkeypatch.setenv("MONGO_URL", "mongodb://db.invalid:27017")
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("SMTP_HOST", "smtp.invalid")
    production = load_settings()
    assert production.graphiql is False and production.introspection is False

    monkeypatch.setenv("GRAPHIQL", "true")
    monkeypatch.setenv("INTROSPECTION", "TRUE")
    asked = load_settings()
    assert asked.graphiql is True and asked.introspection is True

    monkeypatch.delenv("MONGO_URL")
    monkeypatch.setenv("GRAPHIQL", "false")
    monkeypatch.setenv("INTROSPECTION", "false")
    refused = load_settings()
    assert refused.graphiql is False and refused.introspection is False


@pytest.mark.parametrize(
    ("lease", "smtp", "backend"),
    [
        ("25", "10", "3"),  # covers the send (20) but not the Redis and MongoDB calls after it
        ("60", "30", "30"),  # the review's case: another sender could mail it again
    ],
)
def test_the_outbox_lease_must_cover_the_send_and_the_backend_calls_after_it(
    monkeypatch, lease, smtp, backend
):
    monkeypatch.setenv("OUTBOX_LEASE_SECONDS", lease)
    monkeypatch.setenv("SMTP_TIMEOUT_SECONDS", smtp)
    monkeypatch.setenv("BACKEND_TIMEOUT_SECONDS", backend)
    with pytest.raises(ConfigurationError, match="OUTBOX_LEASE_SECONDS"):
        load_settings()
    monkeypatch.setenv("OUTBOX_LEASE_SECONDS", str(2 * float(smtp) + 2 * float(backend)))
    assert load_settings().outbox_lease_seconds == 2 * float(smtp) + 2 * float(backend)
