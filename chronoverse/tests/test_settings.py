import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chronoverse.settings import env_bool, env_int, env_list, env_rate


def test_typed_helpers_read_good_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    monkeypatch.setenv("X_RATE", "5/hour")

    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 1, minimum=1) == 42
    assert env_list("X_LIST", []) == ["a", "b", "c"]
    assert env_rate("X_RATE", "1/min") == "5/hour"
    assert env_int("X_MISSING", 7) == 7


@pytest.mark.parametrize(
    ("helper", "value"),
    [
        (lambda: env_bool("X", False), "maybe"),
        (lambda: env_int("X", 1), "ten"),
        (lambda: env_int("X", 1, minimum=5), "3"),
        (lambda: env_int("X", 1, maximum=5), "9"),
        (lambda: env_rate("X", "1/min"), "5/fortnight"),
        (lambda: env_rate("X", "1/min"), "0/min"),
    ],
)
def test_typed_helpers_reject_bad_values_loudly(monkeypatch, helper, value):
    monkeypatch.setenv("X", value)

    with pytest.raises(ImproperlyConfigured, match="X"):
        helper()


def _settings_load(**env: str) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter with exactly these variables (and PATH)."""
    return subprocess.run(
        [sys.executable, "-c", "import chronoverse.settings"],
        env={"PATH": os.environ["PATH"], **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    "env",
    [
        {},  # no key at all
        {"SECRET_KEY": "short"},
        {"SECRET_KEY": "chronoverse-development-key-for-debug-only"},
        {"SECRET_KEY": "chronoverse-development-key-for-debug-only", "CHRONOVERSE_PRODUCTION": "true"},
    ],
)
def test_without_debug_a_missing_or_weak_secret_key_is_refused(env):
    loaded = _settings_load(**env)

    assert loaded.returncode != 0
    assert "SECRET_KEY must be set to a random value" in loaded.stderr


def test_a_real_key_or_debug_starts():
    assert _settings_load(SECRET_KEY=secrets.token_urlsafe(50)).returncode == 0
    assert _settings_load(DEBUG="true").returncode == 0
