// urql with graphcache and the types graphql-codegen generated from schema.graphql,
// against a real server, for tests/js_clients/test_urql_codegen.py:
//
//   node build/urql/scenario.js <http-url> <ws-url> <token> <other-token> <note-id>
//
// Note <note-id> exists (title "t0", body "b0"). The client watches it (`note`), pushes
// an edit, pushes again on a stale state while another client (<other-token>, over plain
// HTTP) edits it, then deletes it; one JSON line per step on stdout.
import { pipe, subscribe } from "wonka";
import WebSocket from "ws";
import {
  NoteDocument,
  NotesDocument,
  PushNoteDocument,
  type NoteFieldsFragment,
  type NoteInputPushDocument,
  type NoteInputPushRow,
  type NoteQuery,
} from "../generated/graphql.js";
import { followNotes, socket, urqlClient } from "./sync.js";

const [http, wsUrl, token, otherToken, id] = process.argv.slice(2);
const WAIT_MS = 20_000;

const print = (step: string, value: unknown): void => {
  process.stdout.write(`${JSON.stringify({ step, value })}\n`);
};
const warnings: string[] = [];
console.warn = (...args: unknown[]) => warnings.push(args.map(String).join(" "));
console.error = console.warn;

const ws = socket(wsUrl, token, WebSocket);
const client = urqlClient(http, ws, token);

// A push row changing a Note as it was read (the input type has no _rev or __typename).
function edit(note: NoteFieldsFragment, change: Partial<NoteInputPushDocument>): NoteInputPushRow {
  const { id, title, body, tags, views, tenantId, _deleted } = note;
  const read = { id, title, body, tags, views, tenantId, _deleted };
  return { assumedMasterState: read, newDocumentState: { ...read, ...change } };
}

// The watched `note(id)`: each result the cache gives it, and a wait for one that fits.
let latest: NoteQuery["note"] | undefined; // undefined: no result yet
const waiters: Array<() => void> = [];
pipe(
  client.query(NoteDocument, { id }, { requestPolicy: "cache-and-network" }),
  subscribe((result) => {
    if (result.error) print("error", result.error.message);
    if (result.data && !result.stale) {
      latest = result.data.note;
      waiters.splice(0).forEach((wake) => wake());
    }
  }),
);
type Watched = NoteQuery["note"] | undefined;
async function watchedNote(fits: (note: Watched) => boolean): Promise<NoteQuery["note"]> {
  const deadline = Date.now() + WAIT_MS;
  while (!fits(latest)) {
    if (Date.now() > deadline) throw new Error(`the watched note is still ${JSON.stringify(latest)}`);
    await new Promise<void>((wake) => {
      waiters.push(wake);
      setTimeout(wake, deadline - Date.now());
    });
  }
  return latest ?? null;
}

async function updateAsOtherClient(patch: Record<string, unknown>): Promise<void> {
  const response = await fetch(http, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${otherToken}` },
    body: JSON.stringify({
      query: "mutation($id: ID!, $d: NotePatch!) { updateNote(id: $id, data: $d) { id } }",
      variables: { id, d: patch },
    }),
  });
  const body = (await response.json()) as { errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
}

async function main(): Promise<void> {
  const batches: string[][] = [];
  await followNotes(client, (batch) => batches.push(batch.documents.map((d) => d.id)), 2);

  const first = await watchedNote((n) => n?.title === "t0");
  if (!first) throw new Error("no note");
  print("read", first);

  // Written as sent: the answer is empty; the stream brings the new state to the cache.
  const written = await client.mutation(PushNoteDocument, {
    rows: [edit(first, { title: "t1" })],
  });
  const afterWrite = await watchedNote((n) => n?.title === "t1");
  print("written", { answer: written.data?.pushNote, watched: afterWrite, error: written.error?.message });
  if (!afterWrite) throw new Error("no note");

  // On a stale state while the other client changed the body: merged per field; the
  // answer is the merged master state, which the cache takes.
  await updateAsOtherClient({ body: "b from the other client" });
  const merged = await client.mutation(PushNoteDocument, {
    rows: [edit(afterWrite, { title: "t2" })],
  });
  const afterMerge = await watchedNote((n) => n?.title === "t2" && n?.body === "b from the other client");
  print("merged", { answer: merged.data?.pushNote, watched: afterMerge, error: merged.error?.message });
  if (!afterMerge) throw new Error("no note");

  // A deletion: the streamed tombstone replaces the cached note.
  const deleted = await client.mutation(PushNoteDocument, {
    rows: [edit(afterMerge, { _deleted: true })],
  });
  const afterDelete = await watchedNote((n) => n?._deleted === true);
  const listed = await client
    .query(NotesDocument, { where: { id } }, { requestPolicy: "network-only" })
    .toPromise();
  print("deleted", { answer: deleted.data?.pushNote, watched: afterDelete, listed: listed.data?.notes });
  print("streamed", batches.filter((ids) => ids.includes(id)).length);
  print("warnings", warnings);
}

main()
  .then(() => {
    ws.dispose();
    process.exit(0);
  })
  .catch((error: unknown) => {
    print("failed", error instanceof Error ? error.stack : String(error));
    process.exit(2);
  });
