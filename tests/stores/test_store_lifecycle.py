"""Opening and closing a store, its identity, and the checkpoints it accepts."""

from __future__ import annotations

import pytest

from graphql_repl.errors import BadCheckpoint, BadInput, StoreError

from .helpers import drain, ids_of, put, record


async def test_open_store_has_an_id_and_an_empty_log(store):
    assert isinstance(store.store_id, str)
    assert store.store_id

    checkpoint = await store.checkpoint("Note")
    page = await store.changes("Note", None, None, 10)

    assert isinstance(checkpoint, str)
    assert checkpoint
    assert page.docs == []
    assert page.has_more is False
    assert isinstance(page.checkpoint, str)
    assert page.checkpoint


async def test_empty_log_checkpoints_can_be_passed_back_and_see_later_writes(store):
    from_checkpoint = await store.checkpoint("Note")
    from_changes = (await store.changes("Note", None, None, 10)).checkpoint

    await put(store, "Note", record("n1", title="first"))

    for since in (from_checkpoint, from_changes):
        page = await store.changes("Note", since, None, 10)
        assert ids_of(page.docs) == ["n1"]
        assert page.has_more is False


async def test_checkpoint_is_the_end_of_the_log(store):
    await put(store, "Note", record("n1"), record("n2"))
    end = await store.checkpoint("Note")

    assert (await store.changes("Note", end, None, 10)).docs == []
    await put(store, "Note", record("n3"))
    assert ids_of((await store.changes("Note", end, None, 10)).docs) == ["n3"]


async def test_operations_on_a_closed_store_raise_store_error(store):
    await store.close()

    with pytest.raises(StoreError):
        await store.checkpoint("Note")
    with pytest.raises(StoreError):
        await store.changes("Note", None, None, 10)
    with pytest.raises(StoreError):
        await put(store, "Note", record("n1"))


@pytest.mark.requires("persistent")
async def test_store_id_is_stable_across_reopen(new_url, open_store):
    url = new_url()
    first = await open_store(url)
    store_id = first.store_id
    await first.close()

    again = await open_store(url)

    assert again.store_id == store_id


async def test_separate_stores_have_different_ids(new_url, open_store):
    one = await open_store(new_url())
    two = await open_store(new_url())

    assert one.store_id != two.store_id


@pytest.mark.requires("persistent")
async def test_checkpoints_and_documents_survive_restart(new_url, open_store):
    url = new_url()
    first = await open_store(url)
    written = await put(first, "Note", record("n1", title="a"), record("n2", title="b"))
    before = await drain(first, "Note")
    end = await first.checkpoint("Note")
    await first.close()

    again = await open_store(url)
    after = await drain(again, "Note")

    assert [(d.model_id, d.checkpoint, d.data) for d in after.docs] == [
        (d.model_id, d.checkpoint, d.data) for d in before.docs
    ]
    # Checkpoints issued before the restart are still accepted and still mean the same place.
    assert ids_of((await again.changes("Note", written[0].checkpoint, None, 10)).docs) == ["n2"]
    assert (await again.changes("Note", end, None, 10)).docs == []
    # New writes land after every position issued before the restart.
    await put(again, "Note", record("n3"))
    assert ids_of((await again.changes("Note", end, None, 10)).docs) == ["n3"]
    assert ids_of((await again.changes("Note", before.checkpoint, None, 10)).docs) == ["n3"]


@pytest.mark.requires("persistent")
async def test_two_stores_open_on_the_same_url_share_the_log(new_url, open_store):
    url = new_url()
    writer = await open_store(url)
    reader = await open_store(url)
    since = await reader.checkpoint("Note")

    await put(writer, "Note", record("n1"))
    [n1] = (await reader.changes("Note", since, None, 10)).docs
    await put(reader, "Note", record("n2"))

    assert reader.store_id == writer.store_id
    assert n1.model_id == "n1"
    assert ids_of((await writer.changes("Note", n1.checkpoint, None, 10)).docs) == ["n2"]


async def test_checkpoint_from_another_store_raises_bad_checkpoint(new_url, open_store):
    mine = await open_store(new_url())
    other = await open_store(new_url())
    await put(other, "Note", record("n1"))
    await put(mine, "Note", record("n1"))
    foreign = [
        await other.checkpoint("Note"),
        (await other.changes("Note", None, None, 1)).checkpoint,
    ]

    for checkpoint in foreign:
        with pytest.raises(BadCheckpoint):
            await mine.changes("Note", checkpoint, None, 10)
        with pytest.raises(BadCheckpoint):
            await mine.changes("Note", None, None, 10, until=checkpoint)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda cp: "",
        lambda cp: "garbage",
        lambda cp: "-",
        lambda cp: "0",
        lambda cp: "-1",
        lambda cp: "null",
        lambda cp: cp + "x",
        lambda cp: "x" + cp,
        lambda cp: cp + "\n",
        lambda cp: " " + cp,
        lambda cp: cp + "9" * 40,
        lambda cp: cp + "\u00b2",  # SUPERSCRIPT TWO: str.isdigit() says yes, int() says no
    ],
    ids=[
        "empty",
        "garbage",
        "dash",
        "zero",
        "minus-one",
        "null",
        "suffix",
        "prefix",
        "newline",
        "space",
        "huge",
        "superscript-digit",
    ],
)
async def test_malformed_checkpoint_raises_bad_checkpoint(store, mangle):
    await put(store, "Note", record("n1"), record("n2"))
    bad = mangle(await store.checkpoint("Note"))

    with pytest.raises(BadCheckpoint) as since_error:
        await store.changes("Note", bad, None, 10)
    with pytest.raises(BadCheckpoint):
        await store.changes("Note", None, None, 10, until=bad)

    assert isinstance(since_error.value, BadInput)
    assert since_error.value.code == "BAD_USER_INPUT"


@pytest.mark.requires("snapshot")
async def test_checkpoint_ahead_of_the_log_raises_bad_checkpoint(
    backend, new_url, open_store, tmp_path
):
    """A store restored from an older copy has the same id but a shorter log: checkpoints
    issued after the copy was taken point past its end."""
    url = new_url()
    original = await open_store(url)
    await put(original, "Note", record("n1"), record("n2"))
    await original.close()
    backup_dir = tmp_path / "backup"
    backup_dir.mkdir()
    backup_url = backend.snapshot(url, backup_dir)

    original = await open_store(url)
    await put(original, "Note", record("n3"))
    ahead = await original.checkpoint("Note")
    ahead_of_page = (await original.changes("Note", None, None, 10)).checkpoint
    await original.close()

    restored = await open_store(backup_url)
    assert restored.store_id == original.store_id
    assert ids_of((await drain(restored, "Note")).docs) == ["n1", "n2"]
    for checkpoint in (ahead, ahead_of_page):
        with pytest.raises(BadCheckpoint):
            await restored.changes("Note", checkpoint, None, 10)
        with pytest.raises(BadCheckpoint):
            await restored.changes("Note", None, None, 10, until=checkpoint)
