"""Settings read the environment and fail loudly; production settings pass check --deploy."""

from __future__ import annotations

import secrets

import pytest
from django.core.exceptions import ImproperlyConfigured

from helpdesk.env import email_settings_from_url, env_bool, env_float_list, env_int, env_list
from tests.processes import manage, process_env

PRODUCTION = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "help.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://help.example.com",
    "SITE_URL": "https://help.example.com",
    "EMAIL_URL": "smtp://mailer:s3cret@smtp.example.com:587?tls=true",
}


def test_booleans_accept_the_usual_spellings(monkeypatch):
    for value, expected in [("true", True), ("1", True), ("off", False), ("No", False)]:
        monkeypatch.setenv("SOME_FLAG", value)
        assert env_bool("SOME_FLAG", not expected) is expected


def test_a_bad_boolean_fails_loudly(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG='maybe' is not a boolean"):
        env_bool("SOME_FLAG", False)


def test_a_bad_integer_fails_loudly(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER='ten' is not an integer"):
        env_int("SOME_NUMBER", 1)
    monkeypatch.setenv("SOME_NUMBER", "-3")
    with pytest.raises(ImproperlyConfigured, match="must be at least 0"):
        env_int("SOME_NUMBER", 1, minimum=0)


def test_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("SOME_HOSTS", " a.example , b.example,,")
    assert env_list("SOME_HOSTS", []) == ["a.example", "b.example"]


def test_number_lists_are_comma_separated_and_fail_loudly(monkeypatch):
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", "0.5, 10,60")
    assert env_float_list("WEBHOOK_RETRY_SCHEDULE", [1.0]) == [0.5, 10.0, 60.0]
    for bad in ("ten", "", "5,-1"):
        monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", bad)
        with pytest.raises(ImproperlyConfigured, match="WEBHOOK_RETRY_SCHEDULE"):
            env_float_list("WEBHOOK_RETRY_SCHEDULE", [1.0])


def test_email_urls_become_django_settings():
    smtp = email_settings_from_url("EMAIL_URL", "smtp://user%40x:p%2Fw@mail.example:2525?tls=1")
    assert smtp["EMAIL_HOST"] == "mail.example"
    assert smtp["EMAIL_PORT"] == 2525
    assert smtp["EMAIL_HOST_USER"] == "user@x"
    assert smtp["EMAIL_HOST_PASSWORD"] == "p/w"
    assert smtp["EMAIL_USE_TLS"] is True
    assert email_settings_from_url("EMAIL_URL", "smtps://mail.example")["EMAIL_PORT"] == 465
    assert email_settings_from_url("EMAIL_URL", "file:///tmp/mails")["EMAIL_FILE_PATH"] == (
        "/tmp/mails"
    )
    console = email_settings_from_url("EMAIL_URL", "console://")
    assert console["EMAIL_BACKEND"].endswith("console.EmailBackend")
    with pytest.raises(ImproperlyConfigured, match="unknown scheme 'carrier-pigeon'"):
        email_settings_from_url("EMAIL_URL", "carrier-pigeon://coop")


def test_check_deploy_passes_with_the_documented_production_variables(tmp_path):
    env = process_env(tmp_path, SECRET_KEY=secrets.token_urlsafe(50), **PRODUCTION)
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_catches_a_weak_production_setting(tmp_path):
    env = process_env(
        tmp_path, SECRET_KEY=secrets.token_urlsafe(50), SESSION_COOKIE_SECURE="false", **PRODUCTION
    )
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W012" in result.stderr + result.stdout


def test_the_embedded_default_starts_without_a_warning(tmp_path):
    # What runserver and migrate check, database checks included: a newcomer's console.
    env = process_env(tmp_path)
    env.pop("DATABASE_URL", None)
    result = manage("check", "--database", "default", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = process_env(tmp_path, **PRODUCTION)
    del env["SECRET_KEY"]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "perhaps", "DEBUG='perhaps' is not a boolean"),
        ("DATABASE_URL", "nosuchdb://x", "DATABASE_URL is not a usable database URL"),
        ("EMAIL_URL", "fax://x", "unknown scheme 'fax'"),
        ("CELERY_POLLING_INTERVAL", "fast", "CELERY_POLLING_INTERVAL='fast' is not a number"),
        ("API_ANON_RATE", "lots", "API_ANON_RATE='lots' is not a rate like 600/minute"),
    ],
)
def test_a_bad_variable_stops_start_up_with_its_name(tmp_path, variable, value, message):
    result = manage("check", env=process_env(tmp_path, **{variable: value}))
    assert result.returncode != 0
    assert message in result.stderr
