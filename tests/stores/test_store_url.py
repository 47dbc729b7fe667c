"""Store URLs: parsed once into ``StoreURL``, passwords never shown, backends by scheme."""

from __future__ import annotations

import pytest

from graphql_repl.stores import SUPPORTED_BACKENDS, StoreURL, create_store
from graphql_repl.stores.sqlite import SQLiteStore
from graphql_repl.stores.url import FORMS


def test_parts_of_a_mongodb_url():
    url = StoreURL("mongodb://app:p%40ss@db1:27017,db2/repl?replicaSet=rs0&w=majority")

    assert url.scheme == "mongodb"
    assert url.host == "db1:27017,db2"
    assert url.database == "repl"
    assert url.options == {"replicaSet": "rs0", "w": "majority"}


@pytest.mark.parametrize(
    ("given", "database"),
    [
        ("sqlite:///graphql_repl.db", "graphql_repl.db"),
        ("sqlite:////var/lib/repl/store.db", "/var/lib/repl/store.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_url_names_its_file(given, database):
    url = StoreURL(given)

    assert url.scheme == "sqlite"
    assert url.host == ""
    assert url.database == database
    assert str(url) == given


def test_password_is_hidden_from_str_and_repr_but_kept_for_the_driver():
    given = "mongodb://app:s3cret@db/repl"
    url = StoreURL(given)

    assert str(url) == "mongodb://app:***@db/repl"
    assert repr(url) == "StoreURL('mongodb://app:***@db/repl')"
    assert f"{url}" == str(url)
    assert url.secret == given


def test_a_user_without_password_is_shown_as_is():
    assert str(StoreURL("mongodb+srv://app@cluster.example/repl")) == (
        "mongodb+srv://app@cluster.example/repl"
    )


def test_equal_urls_are_equal_values_and_a_store_url_passes_through():
    url = StoreURL("sqlite:///a.db")

    assert StoreURL(url) == url
    assert hash(StoreURL("sqlite:///a.db")) == hash(url)
    assert StoreURL("sqlite:///b.db") != url


@pytest.mark.parametrize("given", ["", "graphql_repl.db", "postgres://db/x", "sqlite:x.db"])
def test_unknown_forms_are_refused_with_the_accepted_ones(given):
    with pytest.raises(ValueError, match="Unsupported store URL") as refused:
        StoreURL(given)

    for form in FORMS.values():
        assert form in str(refused.value)


def test_refusal_never_shows_the_password():
    with pytest.raises(ValueError, match="Unsupported") as refused:
        StoreURL("postgres://app:s3cret@db/x")

    assert "s3cret" not in str(refused.value)


def test_every_accepted_scheme_has_a_backend():
    assert set(FORMS) == set(SUPPORTED_BACKENDS)


def test_create_store_takes_a_string_or_a_store_url():
    assert isinstance(create_store("sqlite:///:memory:"), SQLiteStore)
    assert isinstance(create_store(StoreURL("sqlite:///:memory:")), SQLiteStore)


@pytest.mark.parametrize("given", ["sqlite://host/x.db", "sqlite:///"])
def test_sqlite_store_refuses_a_url_without_a_local_file(given):
    with pytest.raises(ValueError, match="not a SQLite URL"):
        create_store(given)


def test_mongodb_store_refuses_a_url_its_driver_cannot_use():
    with pytest.raises(ValueError, match="Invalid MongoDB URL"):
        create_store("mongodb://db:99999/repl")
