"""``Settings.from_env``: variables cast by field type, the store URL parsed once."""

from __future__ import annotations

import dataclasses

import pytest

from graphql_repl import Settings
from graphql_repl.settings import AUTH_RECHECK_INTERVAL, DEFAULT_STORE
from graphql_repl.stores import StoreURL


def test_defaults_without_variables():
    settings = Settings.from_env({})

    assert settings == Settings()
    assert settings.store == DEFAULT_STORE
    assert settings.auth_recheck_interval == AUTH_RECHECK_INTERVAL


def test_variables_are_cast_to_the_field_types():
    settings = Settings.from_env(
        {
            "GRAPHQL_REPL_PORT": "9000",
            "GRAPHQL_REPL_WS_INIT_TIMEOUT": "2.5",
            "GRAPHQL_REPL_MODELS": "app.models",
            "GRAPHQL_REPL_CORS_ORIGINS": " https://a.example, ,https://b.example ",
            "GRAPHQL_REPL_STORE": "mongodb://app:s3cret@db/repl",
            "UNRELATED": "x",
        }
    )

    assert settings.port == 9000
    assert settings.ws_init_timeout == 2.5
    assert settings.models == "app.models"
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.store == StoreURL("mongodb://app:s3cret@db/repl")


def test_overrides_win_and_none_overrides_are_ignored():
    env = {"GRAPHQL_REPL_PORT": "9000", "GRAPHQL_REPL_HOST": "0.0.0.0"}

    settings = Settings.from_env(env, port=7000, host=None, store="sqlite:///cli.db")

    assert settings.port == 7000
    assert settings.host == "0.0.0.0"
    assert settings.store == StoreURL("sqlite:///cli.db")


@pytest.mark.parametrize(
    ("name", "raw"), [("GRAPHQL_REPL_PORT", "eighty"), ("GRAPHQL_REPL_WS_PING_TIMEOUT", "1e")]
)
def test_a_variable_that_is_not_a_number_is_named(name, raw):
    with pytest.raises(ValueError, match=f"^{name} must be a number, got '{raw}'$"):
        Settings.from_env({name: raw})


def test_a_store_variable_of_unknown_form_is_refused_without_its_password():
    with pytest.raises(ValueError, match=r"^GRAPHQL_REPL_STORE is not a store URL") as refused:
        Settings.from_env({"GRAPHQL_REPL_STORE": "postgres://app:s3cret@db/repl"})

    assert "s3cret" not in str(refused.value)


def test_validation_applies_to_variables_too():
    with pytest.raises(ValueError, match="max_depth must be at least 1"):
        Settings.from_env({"GRAPHQL_REPL_MAX_DEPTH": "0"})
    with pytest.raises(ValueError, match="port must be between 0 and 65535"):
        Settings.from_env({"GRAPHQL_REPL_PORT": "70000"})


def test_a_plain_string_store_becomes_a_store_url():
    settings = Settings(store="sqlite:///x.db")

    assert settings.store == StoreURL("sqlite:///x.db")
    assert dataclasses.replace(settings, store="sqlite:///y.db").store.database == "y.db"


def test_the_store_is_shown_without_its_password():
    settings = Settings(store="mongodb://app:s3cret@db/repl")

    assert str(settings.store) == "mongodb://app:***@db/repl"
    assert settings.store_display == "mongodb://app:***@db/repl"
    assert "s3cret" not in repr(settings)
