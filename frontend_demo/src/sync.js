// Keeps the local replica in step with the server and pushes local edits.
//
// Down: a first load pages `changes(since: null)` over HTTP up to a checkpoint, then
// `changeFeed(since: checkpoint)` over WebSocket (graphql-ws) replays what came after and
// streams live. Every change applied moves the stored checkpoint, so a reload or a new
// connection resumes from there and receives only what it missed.
// Up: every edit goes to the outbox first (base rev + whole document + field stamps) and
// is pushed with `bulkUpdate` whenever the connection is up. The server applies it when
// nothing changed since the base (`prev`), else merges per field (Note) or records a
// conflict (User), which the inbox settles with `resolveConflict`.

import { createClient } from "graphql-ws";
import { HybridLogicalClock, randomHex } from "./clock.js";
import {
  BULK_UPDATE,
  CHANGE_FEED,
  CHANGES,
  CONFLICTS,
  GraphQLError,
  NetworkError,
  RESOLVE,
  request,
} from "./graphql.js";
import { Replica } from "./storage.js";

export const MODELS = ["Note", "User"];
const CONFLICT_MODELS = ["User"]; // Note merges every field automatically
const PAGE_SIZE = 500;
const KEEPALIVE_MS = 10_000;
const PONG_TIMEOUT_MS = 5_000;
const CONFLICT_POLL_MS = 5_000;
const MAX_BACKOFF_MS = 5_000;
const PUSH_RETRY_MS = 2_000;
const REFUSED = ["UNAUTHENTICATED", "FORBIDDEN"];

const isField = (name) => name !== "id" && !name.startsWith("_");

/** A readable reason from what graphql-ws reports: an Error, a CloseEvent or an Event. */
function describe(error) {
  if (error instanceof Error) return error.message;
  if (typeof CloseEvent !== "undefined" && error instanceof CloseEvent) {
    return `connection closed (${error.code}${error.reason ? `: ${error.reason}` : ""})`;
  }
  if (error instanceof Event) return "could not reach the server";
  return String(error);
}

export class Sync extends EventTarget {
  constructor({ httpUrl, wsUrl }) {
    super();
    this.httpUrl = httpUrl;
    this.wsUrl = wsUrl;
    this.clock = new HybridLogicalClock();
    this.state = "idle"; // idle | connecting | online | reconnecting | offline | unauthorized
    this.token = "";
    this.generation = 0;
    this.session = null; // { close(reason) } while a WebSocket session runs
    this.replica = null;
    this.conflicts = [];
    this.merged = new Map(); // "Model:id" -> fields this browser contributed to a merge
    this.flushing = false;
    this.flushTimer = null;
    this.wake = null; // resolves the reconnect wait early
    addEventListener("offline", () => this.session?.close("the browser went offline"));
    addEventListener("online", () => this.wake?.());
    setInterval(() => this.state === "online" && this.refreshConflicts(), CONFLICT_POLL_MS);
  }

  // -- reading ----------------------------------------------------------------------------

  /** The documents as shown: the server's, with this browser's queued edits on top. */
  view(model) {
    const out = [];
    const outbox = this.replica?.outbox ?? new Map();
    for (const [id, doc] of this.replica?.docs(model) ?? []) {
      const entry = outbox.get(`${model}:${id}`);
      if (entry?.type === "DELETE") continue;
      let data = doc.data;
      if (entry) {
        data = { ...data };
        for (const name of Object.keys(entry.clock).filter(isField)) {
          if (entry.data[name] === undefined) delete data[name];
          else data[name] = entry.data[name];
        }
      }
      out.push({ id, data, pending: Boolean(entry), merged: this.merged.get(`${model}:${id}`) ?? null });
    }
    for (const entry of outbox.values()) {
      if (entry.model === model && entry.type === "CREATE" && !this.replica.doc(model, entry.id)) {
        out.push({ id: entry.id, data: entry.data, pending: true, merged: null });
      }
    }
    return out;
  }

  get pending() {
    return this.replica?.outbox.size ?? 0;
  }

  // -- connection -------------------------------------------------------------------------

  /** Use `token` (a new token means a new replica scope and a new connection). */
  connect(token) {
    this.generation += 1;
    this.session?.close("token changed");
    this.token = token;
    this.replica = token ? new Replica(this.httpUrl, token, MODELS) : null;
    this.merged.clear();
    this.conflicts = [];
    this.emit("change");
    if (token) this.run(this.generation);
    else this.setState("idle");
  }

  async run(generation) {
    let failures = 0;
    while (generation === this.generation) {
      if (!navigator.onLine) {
        this.setState("offline");
        await this.pause(60_000);
        continue;
      }
      this.setState(failures ? "reconnecting" : "connecting");
      let connected = false;
      try {
        await this.runSession(generation, () => (connected = true));
      } catch (error) {
        if (generation !== this.generation) return;
        if (error instanceof GraphQLError && REFUSED.includes(error.code)) {
          // Retrying cannot help (an unknown token, or one without the replicator role).
          this.setState("unauthorized");
          this.log(`The server refused the token: ${error.message}`, "error");
          return;
        }
        this.log(`Connection lost: ${describe(error)}`);
      }
      if (generation !== this.generation) return;
      failures = connected ? 1 : failures + 1;
      this.setState(navigator.onLine ? "reconnecting" : "offline");
      await this.pause(Math.min(250 * 2 ** failures, MAX_BACKOFF_MS));
    }
  }

  pause(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One WebSocket session: resolves or rejects when it ends, for whatever reason. */
  async runSession(generation, onConnected) {
    for (const model of MODELS) {
      if (this.replica.checkpoint(model) === null) await this.load(model);
    }
    if (generation !== this.generation) return;
    await new Promise((resolve, reject) => {
      let ended = false;
      let socket = null;
      let pongTimer = null;
      const end = (error) => {
        if (ended) return;
        ended = true;
        clearTimeout(pongTimer);
        this.session = null;
        client.dispose();
        if (error) reject(error);
        else resolve();
      };
      const client = createClient({
        url: this.wsUrl,
        connectionParams: { Authorization: `Bearer ${this.token}` },
        lazy: false,
        retryAttempts: 0,
        keepAlive: KEEPALIVE_MS,
        onNonLazyError: () => {},
        on: {
          connected: (ws) => {
            socket = ws;
            onConnected();
            this.setState("online");
            this.log("Connected: following the change feeds from the stored checkpoints");
            this.refreshConflicts();
            this.flush();
          },
          // A half-open connection (no pong in time) counts as dropped.
          ping: (received) => {
            if (!received) {
              pongTimer = setTimeout(() => socket?.close(4408, "Pong timeout"), PONG_TIMEOUT_MS);
            }
          },
          pong: (received) => received && clearTimeout(pongTimer),
          closed: (event) => {
            if (event?.code === 4401 || event?.code === 4403) {
              // connection_init refused (graphql-transport-ws)
              const code = event.code === 4401 ? "UNAUTHENTICATED" : "FORBIDDEN";
              end(new GraphQLError([{ message: event.reason || code, extensions: { code } }]));
            } else {
              end(new Error(event?.reason || `connection closed (${event?.code ?? "?"})`));
            }
          },
        },
      });
      this.session = { close: (reason) => end(new Error(reason)) };
      for (const model of MODELS) {
        client.subscribe(
          { query: CHANGE_FEED, variables: { model, since: this.replica.checkpoint(model) } },
          {
            next: (result) => {
              if (result.errors?.length) this.feedFailed(model, new GraphQLError(result.errors), end);
              else this.receive(model, result.data.changeFeed);
            },
            error: (error) =>
              Array.isArray(error) ? this.feedFailed(model, new GraphQLError(error), end) : end(error),
            complete: () => end(new Error("the change feed ended")),
          },
        );
      }
    });
  }

  feedFailed(model, error, end) {
    if (error.code === "BAD_USER_INPUT" && /checkpoint/i.test(error.message)) {
      // The server does not know this checkpoint (a recreated store): start over.
      this.log(`${model}: the stored checkpoint was refused; loading everything again`);
      this.replica.reset(model);
      this.emit("change");
    }
    end(error);
  }

  /** The first load of a model: every change so far, page by page, then its checkpoint. */
  async load(model) {
    const docs = new Map();
    let since = null;
    let page;
    do {
      ({ changes: page } = await request(this.httpUrl, this.token, CHANGES, { model, since, limit: PAGE_SIZE }));
      for (const change of page.changes) {
        this.clock.observe(Object.values(change.clock ?? {}));
        if (change.type === "DELETE") docs.delete(change.modelId);
        else docs.set(change.modelId, { rev: change.rev, data: change.data, clock: change.clock ?? {} });
      }
      since = page.checkpoint;
    } while (page.hasMore);
    this.replica.replace(model, docs, since);
    this.emit("change");
  }

  receive(model, change) {
    this.clock.observe(Object.values(change.clock ?? {}));
    this.replica.apply(model, change);
    this.emit("change");
    if (CONFLICT_MODELS.includes(model)) this.refreshConflicts();
  }

  // -- local edits ------------------------------------------------------------------------

  create(model, data) {
    const id = crypto.randomUUID?.() ?? randomHex(16);
    const stamp = this.clock.now();
    const clock = { _written: stamp };
    for (const name of Object.keys(data).filter(isField)) clock[name] = stamp;
    this.queue({ model, id, type: "CREATE", prev: null, data: { ...data, id }, clock });
    return id;
  }

  /** Change some fields of a document (`undefined` removes a field). */
  update(model, id, patch) {
    const key = `${model}:${id}`;
    const stamp = this.clock.now();
    let entry = this.replica.outbox.get(key);
    if (entry?.type === "DELETE") return;
    if (!entry) {
      const doc = this.replica.doc(model, id);
      if (!doc) return;
      entry = { model, id, type: "UPDATE", prev: doc.rev, data: { ...doc.data }, clock: {} };
    }
    const data = { ...entry.data };
    for (const [name, value] of Object.entries(patch)) {
      if (value === undefined) delete data[name];
      else data[name] = value;
    }
    const clock = { ...entry.clock, _written: stamp };
    for (const name of Object.keys(patch)) clock[name] = stamp;
    this.merged.delete(key);
    this.queue({ ...entry, data, clock });
  }

  remove(model, id) {
    const key = `${model}:${id}`;
    const entry = this.replica.outbox.get(key);
    const doc = this.replica.doc(model, id);
    if (entry?.type === "CREATE" && !doc) {
      this.replica.unqueue(key); // never reached the server
      this.emit("change");
      return;
    }
    if (!doc) return;
    const stamp = this.clock.now();
    const clock = { _deleted: stamp, _written: stamp };
    this.queue({ model, id, type: "DELETE", prev: entry?.prev ?? doc.rev, data: null, clock });
  }

  queue(entry) {
    const key = `${entry.model}:${entry.id}`;
    const version = (this.replica.outbox.get(key)?.version ?? 0) + 1;
    this.replica.queue(key, { ...entry, version });
    this.emit("change");
    this.scheduleFlush();
  }

  scheduleFlush() {
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, 0);
  }

  /** Push the outbox with bulkUpdate, model by model, while online. */
  async flush() {
    if (this.flushing || this.state !== "online" || !this.replica?.outbox.size) return;
    this.flushing = true;
    const replica = this.replica;
    let pushed = false;
    try {
      for (const model of MODELS) {
        const sent = [...replica.outbox.values()]
          .filter((e) => e.model === model)
          .map((entry) => ({ entry, base: replica.doc(model, entry.id)?.rev ?? null }));
        if (!sent.length) continue;
        const updates = sent.map(({ entry }) => ({
          modelId: entry.id,
          type: entry.type,
          data: entry.data,
          prev: entry.prev,
          clock: entry.clock,
        }));
        const { bulkUpdate } = await request(this.httpUrl, this.token, BULK_UPDATE, { model, updates });
        if (replica !== this.replica) return;
        bulkUpdate.results.forEach((result, i) => this.settle(model, sent[i], result, bulkUpdate.conflicts));
        this.emit("change");
      }
      pushed = true;
    } catch (error) {
      // A network failure leaves the outbox as it is: retried shortly, and on the next
      // connection in any case.
      if (error instanceof NetworkError) setTimeout(() => this.flush(), PUSH_RETRY_MS);
      else this.log(`Push failed: ${error.message}`, "error");
    } finally {
      this.flushing = false;
    }
    // Edits made while this push was on its way go out next.
    if (pushed && replica === this.replica && replica.outbox.size) this.scheduleFlush();
  }

  settle(model, { entry, base }, result, conflicts) {
    const key = `${model}:${entry.id}`;
    const replica = this.replica;
    const current = replica.outbox.get(key);
    const editedSince = current && current.version !== entry.version;
    const label = `${model} ${entry.data?.title ?? entry.data?.name ?? entry.id}`;
    if (["APPLIED", "MERGED", "UNCHANGED"].includes(result.status)) {
      // Show the result at once unless the feed already brought something newer.
      if ((replica.doc(model, entry.id)?.rev ?? null) === base && result.status !== "UNCHANGED") {
        replica.apply(model, { modelId: entry.id, type: result.data ? entry.type : "DELETE", rev: result.rev, data: result.data }, null);
      }
      if (result.status === "MERGED") {
        const mine = Object.keys(entry.clock).filter(isField);
        const theirs = Object.keys(result.data ?? {}).filter(
          (name) => isField(name) && !mine.includes(name) && JSON.stringify(result.data[name]) !== JSON.stringify(entry.data?.[name]),
        );
        this.merged.set(key, { mine, theirs });
        this.log(`${label}: merged (yours: ${mine.join(", ") || "-"}; theirs: ${theirs.join(", ") || "-"})`, "merged");
      }
      if (editedSince && result.data) {
        // Edited while the push was on its way: rebase the newer edit on the result.
        const data = { ...result.data };
        for (const name of Object.keys(current.clock).filter(isField)) data[name] = current.data[name];
        replica.queue(key, { ...current, type: "UPDATE", prev: result.rev, data });
      } else {
        replica.unqueue(key);
      }
    } else if (result.status === "CONFLICT") {
      const conflict = conflicts.find((c) => c.modelId === entry.id);
      if (conflict) replica.setMine(key, conflict.sourceRev);
      replica.unqueue(key);
      this.log(`${label}: conflict, see the inbox`, "conflict");
      this.refreshConflicts();
    } else {
      replica.unqueue(key);
      this.log(`${label}: rejected (${result.error ?? result.status})`, "error");
    }
  }

  // -- conflicts --------------------------------------------------------------------------

  async refreshConflicts() {
    const replica = this.replica;
    try {
      const lists = await Promise.all(
        CONFLICT_MODELS.map(async (model) => (await request(this.httpUrl, this.token, CONFLICTS, { model })).conflicts),
      );
      if (replica !== this.replica) return;
      this.conflicts = lists.flat();
      this.emit("change");
    } catch (error) {
      if (!(error instanceof NetworkError)) this.log(`Could not list conflicts: ${error.message}`);
    }
  }

  /** Whether this browser pushed the source side of `conflict`. */
  isMine(conflict) {
    return this.replica?.mine.get(`${conflict.model}:${conflict.modelId}`) === conflict.sourceRev;
  }

  async resolve(conflict, using, data = null) {
    await request(this.httpUrl, this.token, RESOLVE, {
      model: conflict.model,
      modelId: conflict.modelId,
      using,
      data,
    });
    this.replica.setMine(`${conflict.model}:${conflict.modelId}`, null);
    this.log(`${conflict.model} ${conflict.modelId}: conflict resolved (${using})`);
    await this.refreshConflicts();
  }

  // -- events -----------------------------------------------------------------------------

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.emit("state");
  }

  log(message, kind = "info") {
    this.dispatchEvent(new CustomEvent("log", { detail: { message, kind, at: new Date() } }));
  }

  emit(type) {
    this.dispatchEvent(new Event(type));
  }
}
