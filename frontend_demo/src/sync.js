// Keeps an RxDB database in this browser in step with the server through RxDB's own GraphQL
// replication (CONTRACT §8): `pullNote` over HTTP from the stored checkpoint, `streamNote`
// over WebSocket for live changes, `pushNote` for local writes (likewise for User). RxDB
// keeps documents and checkpoints in IndexedDB (Dexie.js), holds local writes until the
// server has them and retries what failed. This module adds what the page shows: the
// connection state, the edits not yet accepted, merges, the conflict inbox and a log.

import {
  awaitRxStorageReplicationInSync,
  createRxDatabase,
  deepEqual,
  getAssumedMasterState,
  getChangedDocumentsSince,
  getHeightOfRevision,
  getLastCheckpointDoc,
  writeDocToDocState,
} from "rxdb";
import {
  pullQueryBuilderFromRxSchema,
  pullStreamBuilderFromRxSchema,
  pushQueryBuilderFromRxSchema,
  replicateGraphQL,
} from "rxdb/plugins/replication-graphql";
import { getRxStorageDexie } from "rxdb/plugins/storage-dexie";
import { CONFLICT, NOTE, USER, forQueryBuilders } from "./schemas.js";

/**
 * The replicated collections: RxDB's name for the model (`note`: pullNote, pushNote,
 * streamNote, NoteInputPushRow, ...) and whether a conflict the server does not merge goes
 * to the inbox (User's fields are MANUAL; Note merges every field, CONTRACT §4).
 */
export const REPLICATED = {
  notes: { model: "note", label: "Note", schema: NOTE, inbox: false },
  users: { model: "user", label: "User", schema: USER, inbox: true },
};
const PULL_BATCH = 500;
const PUSH_BATCH = 100;
const RETRY_MS = 2_000;
const MAX_BACKOFF_MS = 5_000;
const KEEPALIVE_MS = 10_000;
const PONG_TIMEOUT_MS = 5_000;
const REFUSED = ["UNAUTHENTICATED", "FORBIDDEN"];
const REFUSED_CLOSE_CODES = [4401, 4403]; // connection_init refused (graphql-transport-ws)

/**
 * A document's content as the server compares it: no RxDB metadata and no null fields (the
 * server stores none); a deleted document is its id alone.
 */
export function content(doc) {
  if (doc._deleted) return { id: doc.id, _deleted: true };
  const out = {};
  for (const [name, value] of Object.entries(doc)) {
    if (!name.startsWith("_") && value !== null && value !== undefined) out[name] = value;
  }
  return out;
}

function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}

/** The first GraphQL error code in what RxDB or graphql-ws reports. */
function errorCode(error) {
  const errors = error?.parameters?.errors ?? (Array.isArray(error) ? error : [error]);
  return errors.map((e) => e?.extensions?.code).find(Boolean) ?? null;
}

function describe(error) {
  const first = error?.parameters?.errors?.[0] ?? (Array.isArray(error) ? error[0] : error);
  if (first?.code && first?.reason !== undefined) return `connection closed (${first.code}${first.reason ? `: ${first.reason}` : ""})`;
  return first?.message ?? String(error);
}

/**
 * The ids of the documents whose local state the server has not accepted yet. RxDB's
 * upstream pushes what changed after its checkpoint and keeps, per document, the master
 * state it last saw (the replication's meta instance): a document that differs from it
 * holds a local edit.
 */
async function unpushed(state) {
  const { forkInstance, conflictHandler } = state.input;
  const ids = [];
  let checkpoint = await getLastCheckpointDoc(state, "up");
  for (;;) {
    const page = await getChangedDocumentsSince(forkInstance, PUSH_BATCH, checkpoint);
    if (!page.documents.length) return ids;
    const masters = await getAssumedMasterState(state, page.documents.map((d) => d.id));
    for (const doc of page.documents) {
      const master = masters[doc.id]?.docData;
      const local = writeDocToDocState(doc, false, false);
      if (master ? !conflictHandler.isEqual(master, local) : !doc._deleted) ids.push(doc.id);
    }
    checkpoint = page.checkpoint;
  }
}

/**
 * A push modifier that drops a row holding a state the server sent. RxDB 17.6 pushes such a
 * state back, as if it were a local edit, when the page closed after storing a pulled
 * document but before storing its replication metadata; the server's per-field merge would
 * then let that stale state win over edits made since. A state written by RxDB's downstream
 * carries `_meta.o` with its own revision height (the mark the downstream checks for the
 * same case); a local write raises the height. RxDB records a dropped row as the server's
 * state, which repairs the missing metadata.
 */
function withoutPulledStates(collection, identifier) {
  const mark = collection.database.hashFunction(`rxdbreplication${identifier}`);
  return async (doc) => {
    const [stored] = await collection.storageInstance.findDocumentsById([doc.id], true);
    const origin = stored?._meta.o;
    const pulled = origin?.hash === (await mark) && origin._rev === getHeightOfRevision(stored._rev);
    return pulled ? null : doc;
  };
}

export class Sync extends EventTarget {
  constructor({ httpUrl, wsUrl }) {
    super();
    this.httpUrl = httpUrl;
    this.wsUrl = wsUrl;
    // idle | connecting | online | reconnecting | offline | shared | unauthorized
    this.state = "idle";
    this.session = null; // { token, db, replications, socket } while a token is in use
    this.docs = { notes: [], users: [], conflicts: [] }; // RxDocuments, as last queried
    this.pending = new Set(); // "collection:id" of local edits the server has not accepted
    this.merged = new Map(); // "collection:id" -> the fields this browser contributed to a merge
    this.synced = false; // connected, nothing queued, and RxDB has stored all it pulled
    this.queue = Promise.resolve(); // opening and closing, one at a time
    this.tallies = new Map();
    addEventListener("offline", () => this.wentOffline());
    addEventListener("online", () => this.state === "offline" && this.setState("reconnecting"));
  }

  // -- reading ----------------------------------------------------------------------------

  get ready() {
    return Boolean(this.session?.db);
  }

  /** A collection's documents as the page shows them, most recently changed first. */
  view(name) {
    return this.docs[name]
      .map((doc) => {
        const key = `${name}:${doc.primary}`;
        const { _meta, ...data } = doc.toJSON(true);
        return { id: doc.primary, data, at: _meta.lwt, pending: this.pending.has(key), merged: this.merged.get(key) ?? null };
      })
      .sort((a, b) => b.at - a.at || a.id.localeCompare(b.id));
  }

  get conflicts() {
    return this.docs.conflicts.map((doc) => doc.toJSON());
  }

  // -- connection -------------------------------------------------------------------------

  /** Use `token`: its own database in this browser, and its own connection. */
  connect(token) {
    this.queue = this.queue
      .then(() => this.close())
      .then(() => (token ? this.open(token) : this.setState("idle")))
      .catch((error) => this.log(`Could not open the local database: ${describe(error)}`, "error"));
    return this.queue;
  }

  async open(token) {
    const session = (this.session = { token, db: null, replications: [], socket: null });
    this.setState(navigator.onLine ? "connecting" : "offline");
    const db = await createRxDatabase({
      name: `graphql-repl-demo-${fnv1a(`${this.httpUrl} ${token}`)}`,
      storage: getRxStorageDexie(),
    });
    await db.addCollections({
      notes: { schema: NOTE, conflictHandler: this.conflictHandler(session, "notes") },
      users: { schema: USER, conflictHandler: this.conflictHandler(session, "users") },
      conflicts: { schema: CONFLICT },
    });
    session.db = db;
    for (const name of Object.keys(this.docs)) {
      db[name].find().$.subscribe((docs) => {
        this.docs[name] = docs;
        this.synced = false; // perhaps a local edit: synced again once countPending says so
        this.changed();
      });
    }
    const socket = this.socketOptions(session);
    session.replications = Object.entries(REPLICATED).map(([name, spec]) =>
      this.replicate(session, db[name], spec, socket),
    );
    // Only one tab of a browser replicates (RxDB's leader election); the others share its
    // database and show what it syncs.
    const elector = db.leaderElector();
    const led = typeof elector.hasLeader === "function" ? await elector.hasLeader() : elector.hasLeader;
    if (led && !elector.isLeader && session === this.session) this.setState("shared");
  }

  replicate(session, collection, { model, label, schema }, socket) {
    const input = { schema: forQueryBuilders(schema), checkpointFields: ["seq"] };
    const replicationIdentifier = `graphql-repl ${this.httpUrl} ${model}`;
    const replication = replicateGraphQL({
      collection,
      replicationIdentifier,
      url: { http: this.httpUrl, ws: this.wsUrl },
      headers: { Authorization: `Bearer ${session.token}` },
      live: true,
      retryTime: RETRY_MS,
      pull: {
        queryBuilder: pullQueryBuilderFromRxSchema(model, input),
        streamQueryBuilder: pullStreamBuilderFromRxSchema(model, input),
        batchSize: PULL_BATCH,
        includeWsHeaders: true, // connection_init carries the token too
        wsOptions: socket,
      },
      push: {
        queryBuilder: pushQueryBuilderFromRxSchema(model, input),
        batchSize: PUSH_BATCH,
        modifier: withoutPulledStates(collection, replicationIdentifier),
      },
    });
    replication.error$.subscribe((error) => this.failed(session, label, error));
    replication.active$.subscribe(() => this.changed());
    replication.received$.subscribe(() => this.tally(`${label}: received`));
    replication.sent$.subscribe(() => this.tally(`${label}: pushed`));
    return replication;
  }

  /** graphql-ws options: the badge follows the socket, and a socket that stops answering
   * pings (a half-open connection) is closed so that it reconnects. */
  socketOptions(session) {
    let pongTimer = null;
    const current = () => session === this.session && this.state !== "unauthorized";
    return {
      retryAttempts: Infinity,
      retryWait: (retries) => this.backoff(retries),
      keepAlive: KEEPALIVE_MS,
      on: {
        connected: (ws) => {
          session.socket = ws;
          if (!current()) return;
          this.setState("online");
          this.log("Connected: pulling what changed since the stored checkpoints, then live");
        },
        ping: (received) => {
          if (!received) pongTimer = setTimeout(() => session.socket?.close(4408, "Pong timeout"), PONG_TIMEOUT_MS);
        },
        pong: (received) => received && clearTimeout(pongTimer),
        closed: (event) => {
          clearTimeout(pongTimer);
          session.socket = null;
          if (!current()) return;
          if (REFUSED_CLOSE_CODES.includes(event?.code)) return this.refuse(session, event.reason || "token refused");
          if (this.state === "online") this.log(`Connection lost: ${describe(event)}`);
          this.setState(navigator.onLine ? "reconnecting" : "offline");
        },
      },
    };
  }

  /** Wait before reconnecting: doubling up to 5 s, cut short when the browser is back online. */
  backoff(retries) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        removeEventListener("online", done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(250 * 2 ** retries, MAX_BACKOFF_MS));
      addEventListener("online", done);
    });
  }

  wentOffline() {
    const session = this.session;
    if (!session || this.state === "unauthorized") return;
    this.setState("offline");
    this.log("Offline: edits stay in this browser until the connection is back");
    session.socket?.close(4499, "the browser went offline"); // a real outage may go unnoticed for long
  }

  failed(session, label, error) {
    if (session !== this.session || this.state === "unauthorized") return;
    if (REFUSED.includes(errorCode(error)) || REFUSED_CLOSE_CODES.includes(error?.code)) {
      this.refuse(session, describe(error));
    } else if (!error?.rxdb) {
      // The live stream failed for good (graphql-ws gave up): start over shortly.
      this.log(`${label}: the live stream failed (${describe(error)}); reconnecting`, "error");
      setTimeout(() => session === this.session && this.connect(session.token), MAX_BACKOFF_MS);
    } else if (navigator.onLine) {
      this.log(`${label}: ${error.parameters?.direction ?? "sync"} failed (${describe(error)}); retrying`, "error");
    }
  }

  /** The server refused the token: retrying cannot help. */
  refuse(session, reason) {
    if (session !== this.session || this.state === "unauthorized") return;
    this.setState("unauthorized");
    this.log(`The server refused the token: ${reason}`, "error");
    for (const replication of session.replications) replication.cancel();
  }

  async close() {
    const session = this.session;
    this.session = null;
    this.pending.clear();
    this.merged.clear();
    this.synced = false;
    for (const name of Object.keys(this.docs)) this.docs[name] = [];
    if (session) {
      await Promise.all(session.replications.map((r) => r.cancel()));
      await session.db?.close();
    }
    this.changed();
  }

  // -- local edits ------------------------------------------------------------------------

  doc(name, id) {
    return this.docs[name].find((doc) => doc.primary === id) ?? null;
  }

  async create(name, data) {
    await this.session?.db[name].insert({ ...data, id: crypto.randomUUID() });
  }

  async update(name, id, patch) {
    this.merged.delete(`${name}:${id}`);
    await this.doc(name, id)?.incrementalPatch(patch);
  }

  async remove(name, id) {
    await this.doc(name, id)?.incrementalRemove();
  }

  // -- conflicts --------------------------------------------------------------------------

  /**
   * RxDB calls `resolve` for each pushed row the server did not write as sent (CONTRACT
   * §8: it answers its master state). The server's state is taken; when this browser's
   * edit did not make it into that state, the User inbox keeps both sides until settled.
   */
  conflictHandler(session, name) {
    return {
      isEqual: (a, b) => deepEqual(content(a), content(b)),
      resolve: async ({ newDocumentState, assumedMasterState, realMasterState }) => {
        await this.conflicted(session, name, newDocumentState, assumedMasterState, realMasterState);
        return realMasterState;
      },
    };
  }

  async conflicted(session, name, newState, assumedState, masterState) {
    const { label, inbox } = REPLICATED[name];
    const [mine, base, theirs] = [content(newState), content(assumedState ?? { id: newState.id }), content(masterState)];
    const key = `${name}:${mine.id}`;
    const title = theirs.title ?? theirs.name ?? mine.title ?? mine.name ?? mine.id;
    const edited = [...new Set([...Object.keys(mine), ...Object.keys(base)])].filter(
      (field) => field !== "id" && !deepEqual(mine[field], base[field]),
    );
    if (!edited.length) return; // nothing of this browser's to keep
    if (edited.every((field) => deepEqual(mine[field], theirs[field])) && !theirs._deleted) {
      // The server merged this edit with others made since.
      const others = Object.keys(theirs).filter((field) => field !== "id" && !edited.includes(field) && !deepEqual(theirs[field], base[field]));
      this.merged.set(key, edited);
      this.log(`${label} ${title}: merged (yours: ${edited.join(", ") || "-"}; theirs: ${others.join(", ") || "-"})`, "merged");
    } else if (inbox) {
      await session.db?.conflicts.upsert({ id: key, collectionName: name, docId: mine.id, mine, theirs });
      this.log(`${label} ${title}: conflict, see the inbox`, "conflict");
    } else {
      this.log(`${label} ${title}: the server kept its version`, "conflict");
    }
    this.changed();
  }

  /** Settle a conflict: "mine", "theirs" (already what the board holds) or "edited". */
  async settle(conflict, choice, edited = {}) {
    const { collectionName: name, docId, theirs } = conflict;
    const collection = this.session.db[name];
    const { _deleted, ...theirFields } = theirs;
    const chosen = { mine: conflict.mine, theirs: null, edited: { ...theirFields, ...edited, id: docId } }[choice];
    if (chosen?._deleted) await (await collection.findOne(docId).exec())?.incrementalRemove();
    else if (chosen) await collection.upsert(chosen);
    await this.doc("conflicts", conflict.id)?.incrementalRemove();
    this.log(`${REPLICATED[name].label} ${theirs.name ?? conflict.mine.name ?? docId}: kept ${choice}`);
  }

  // -- events -----------------------------------------------------------------------------

  /** Something changed: redraw now, and recount the edits not yet accepted soon after. */
  changed() {
    this.emit("change");
    this.pendingTimer ??= setTimeout(() => {
      this.pendingTimer = null;
      this.countPending();
    }, 50);
  }

  async countPending() {
    const session = this.session;
    const pending = new Set();
    let idle = true;
    try {
      for (const replication of session?.replications ?? []) {
        const state = replication.internalReplicationState;
        if (!state) continue; // not started: this tab does not replicate
        for (const id of await unpushed(state)) pending.add(`${replication.collection.name}:${id}`);
        idle &&= !state.events.active.up.getValue() && !state.events.active.down.getValue();
        if (idle) await awaitRxStorageReplicationInSync(state); // documents, metadata, checkpoints
      }
    } catch {
      return; // the database closed meanwhile
    }
    if (session !== this.session) return;
    const synced = idle && this.state === "online" && !pending.size;
    if (synced === this.synced && deepEqual([...pending].sort(), [...this.pending].sort())) return;
    [this.pending, this.synced] = [pending, synced];
    this.emit("change");
  }

  /** Count events of one kind and log them together (a first pull brings many). */
  tally(kind) {
    this.tallies.set(kind, (this.tallies.get(kind) ?? 0) + 1);
    this.tallyTimer ??= setTimeout(() => {
      this.tallyTimer = null;
      for (const [what, count] of this.tallies) this.log(`${what} ${count} document${count === 1 ? "" : "s"}`);
      this.tallies.clear();
    }, 200);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.emit("state");
    this.changed();
  }

  log(message, kind = "info") {
    this.dispatchEvent(new CustomEvent("log", { detail: { message, kind, at: new Date() } }));
  }

  emit(type) {
    this.dispatchEvent(new Event(type));
  }
}
