"""Configuration: safe bounds refuse to start, naming the variable; secrets rules."""

import pytest

from settings import ConfigurationError, load_settings

SECRET = "s" * 32


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    # Read from a directory without .env, and from a known environment.
    monkeypatch.chdir(tmp_path)
    for name in ("MONGO_URL", "REDIS_URL", "JWT_SECRET", "SMTP_HOST"):
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
    assert settings.embedded
    assert settings.jwt_leeway_seconds == 30
    assert settings.session_max_age_seconds == 90 * 24 * 3600


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
        ("JWT_LEEWAY_SECONDS", "121"),
        ("SESSION_MAX_AGE_SECONDS", "31536001"),
        # Shorter than the default REFRESH_TOKEN_TTL_SECONDS (30 days).
        ("SESSION_MAX_AGE_SECONDS", "86400"),
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
    settings = load_settings()
    assert not settings.embedded


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("CODE_TTL_SECONDS=300\nGRAPHIQL=false\n")
    settings = load_settings()
    assert settings.code_ttl_seconds == 300
    assert settings.graphiql is False
