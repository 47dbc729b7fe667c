"""A writer process for test_concurrent_writers: creates, updates and now and then deletes
Notes with overlapping ids in one shared store. Usage: _writer.py STORE_URL WRITER_ID OPS"""

from __future__ import annotations

import asyncio
import random
import sys

from graphql_repl import BadInput, NotFound, Repository, Settings, demo_registry

IDS = 12


async def main(url: str, writer: int, ops: int) -> None:
    rng = random.Random(writer)
    async with Repository.from_settings(Settings(store=url), demo_registry()) as repo:
        notes = repo.model("Note")
        for i in range(ops):
            model_id = f"n{rng.randrange(IDS):02}"
            if rng.random() < 0.08:
                await notes.delete(model_id)
                continue
            data = {"title": f"w{writer}-{i}", "views": i, "tags": [f"w{writer}"]}
            while True:  # other writers may create or delete it in between: retry
                try:
                    await notes.update(model_id, data)
                    break
                except NotFound:
                    pass
                try:
                    await notes.create({"id": model_id, **data})
                    break
                except BadInput:
                    pass
            if i % 10 == 0:
                await asyncio.sleep(0.001)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
