// RxDB 17.6 (memory storage, dev-mode, ajv validation) synced with graphql-repl by
// rxdb-sync.mjs (RxDB's own builders and options only), driven by
// tests/js_clients/test_rxdb.py through lib/commands.mjs. Commands name a database
// (`db`: one per token, as one per user) and a model ("note", "user", "financialRecord").
import { addRxPlugin, createRxDatabase, defaultConflictHandler } from "rxdb";
import { RxDBDevModePlugin, disableWarnings } from "rxdb/plugins/dev-mode";
import { getRxStorageMemory } from "rxdb/plugins/storage-memory";
import { wrappedValidateAjvStorage } from "rxdb/plugins/validate-ajv";
import { filter, tap } from "rxjs";
import { errorCodes, percentile, serve, within } from "./lib/commands.mjs";
import { noteSchema, replicateModel } from "./rxdb-sync.mjs";

disableWarnings();
addRxPlugin(RxDBDevModePlugin);

const nullable = (type) => ({ type: [type, "null"] });
const schemas = {
  note: noteSchema,
  // A Note whose views the collection lets be any number (the server's are Ints).
  looseNote: {
    ...noteSchema,
    properties: { ...noteSchema.properties, views: nullable("number") },
  },
  user: {
    version: 0,
    primaryKey: "id",
    type: "object",
    properties: {
      id: { type: "string", maxLength: 100 },
      name: nullable("string"),
      email: nullable("string"),
    },
    required: ["id"],
  },
  financialRecord: {
    version: 0,
    primaryKey: "id",
    type: "object",
    properties: {
      id: { type: "string", maxLength: 100 },
      account: nullable("string"),
      amount: nullable("number"),
      currency: nullable("string"),
    },
    required: ["id"],
  },
};

const databases = new Map(); // name -> {db, models: {model: {collection, replication, log}}}

// What a test can look at afterwards: errors, conflicts and the requests RxDB sent.
function newLog() {
  return { errors: [], conflicts: [], resolved: [], operations: [] };
}

// Counts the GraphQL operations RxDB sends over HTTP (RxDB's `fetch` option).
function recordingFetch(log) {
  return async (request) => {
    const body = await request.clone().json();
    log.operations.push(body.operationName ?? null);
    return fetch(request);
  };
}

// The User conflict handler: a MANUAL conflict is settled by keeping both names.
function keepBothNames(log) {
  return {
    isEqual: defaultConflictHandler.isEqual,
    async resolve(input) {
      log.resolved.push(input);
      const { realMasterState: master, newDocumentState: mine } = input;
      return { ...master, name: `${master.name} & ${mine.name}` };
    },
  };
}

// The default handler (the master state wins), with its calls recorded.
function recordedDefault(log) {
  return {
    isEqual: defaultConflictHandler.isEqual,
    async resolve(input) {
      log.resolved.push(input);
      return defaultConflictHandler.resolve(input);
    },
  };
}

function model(db, name) {
  const found = databases.get(db)?.models[name];
  if (!found) throw new Error(`no ${name} collection in database ${db}`);
  return found;
}

const plain = (doc) => (doc ? doc.toMutableJSON() : null);

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const matches = (doc, fields) => doc !== null && Object.entries(fields).every(([k, v]) => same(doc[k], v));

serve({
  // A database with one replicated collection per model; answers after the initial pull.
  // `schemas` names another schema for a model's collection (`{note: "looseNote"}`).
  async open({ db, token, http, ws, models, includeWsHeaders = false, schemas: chosen = {} }) {
    const database = await createRxDatabase({
      name: `${db}-${Date.now()}`,
      storage: wrappedValidateAjvStorage({ storage: getRxStorageMemory() }),
      multiInstance: false,
    });
    const entry = { db: database, models: {} };
    databases.set(db, entry);
    for (const name of models) {
      const log = newLog();
      const conflictHandler = name === "user" ? keepBothNames(log) : recordedDefault(log);
      const schema = schemas[chosen[name] ?? name];
      const added = await database.addCollections({ [name]: { schema, conflictHandler } });
      const collection = added[name];
      const replication = replicateModel(collection, name, {
        http,
        ws,
        token,
        includeWsHeaders,
        fetch: recordingFetch(log),
      });
      replication.error$.subscribe((error) =>
        log.errors.push({ code: error.code, codes: errorCodes(error.parameters), message: error.message }),
      );
      replication.conflict$.subscribe((conflict) => log.conflicts.push(conflict));
      entry.models[name] = { collection, replication, log };
    }
    await Promise.all(Object.values(entry.models).map((m) => m.replication.awaitInitialReplication()));
    const docs = {};
    for (const [name, m] of Object.entries(entry.models)) {
      docs[name] = (await m.collection.find().exec()).map(plain);
    }
    return docs;
  },

  async insert({ db, model: name, doc, sync = true }) {
    const m = model(db, name);
    const inserted = await m.collection.insert(doc);
    if (sync) await m.replication.awaitInSync();
    return plain(inserted);
  },

  // One local write of many documents (pushed together, in rows of one request).
  async bulkInsert({ db, model: name, docs }) {
    const m = model(db, name);
    const { error } = await m.collection.bulkInsert(docs);
    if (error.length) throw new Error(JSON.stringify(error));
    await m.replication.awaitInSync();
  },

  async patch({ db, model: name, id, patch, sync = true }) {
    const m = model(db, name);
    const doc = await m.collection.findOne(id).exec();
    const patched = await doc.incrementalPatch(patch);
    if (sync) await m.replication.awaitInSync();
    return plain(patched);
  },

  async remove({ db, model: name, id }) {
    const m = model(db, name);
    const doc = await m.collection.findOne(id).exec();
    await doc.remove();
    await m.replication.awaitInSync();
    return null;
  },

  async get({ db, model: name, id }) {
    return plain(await model(db, name).collection.findOne(id).exec());
  },

  async all({ db, model: name }) {
    return (await model(db, name).collection.find().exec()).map(plain);
  },

  // Waits until the collection's document has `fields` (or, with `gone`, until it has none).
  async waitFor({ db, model: name, id, fields = {}, gone = false }) {
    const { collection } = model(db, name);
    let last;
    const wanted = (doc) => {
      last = plain(doc);
      return gone ? last === null : matches(last, fields);
    };
    const wish = gone ? "gone" : `with ${JSON.stringify(fields)}`;
    await within(collection.findOne(id).$.pipe(filter(wanted)), () => `${name} ${id} is ${JSON.stringify(last)}, not ${wish}`);
    return last;
  },

  async waitForError({ db, model: name, code }) {
    const { replication, log } = model(db, name);
    const seen = () => log.errors.find((e) => e.codes.includes(code));
    const what = () => `no ${code} error among ${JSON.stringify(log.errors)}`;
    if (!seen()) await within(replication.error$.pipe(filter(() => seen() !== undefined)), what);
    return seen();
  },

  async pause({ db, model: name }) {
    await model(db, name).replication.pause();
  },

  async resume({ db, model: name }) {
    const { replication } = model(db, name);
    await replication.start();
    await replication.awaitInSync();
  },

  async sync({ db, model: name }) {
    await model(db, name).replication.awaitInSync();
  },

  async log({ db, model: name }) {
    return model(db, name).log;
  },

  // `count` server writes (updateNote over HTTP with `token`), each timed from just
  // before its request until the collection holds the new state. Milliseconds.
  async latency({ db, http, token, id, count }) {
    const { collection } = model(db, "note");
    const update = `mutation ($id: ID!, $views: Int) { updateNote(id: $id, data: { views: $views }) { id } }`;
    const times = [];
    for (let i = 1; i <= count; i++) {
      let arrived;
      const seen = within(
        collection.findOne(id).$.pipe(
          filter((doc) => doc?.views === i),
          tap(() => {
            arrived = performance.now();
          }),
        ),
        () => `write ${i} of ${count} did not reach the collection`,
      );
      const start = performance.now();
      const response = await fetch(http, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: update, variables: { id, views: i } }),
      });
      const body = await response.json();
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      await seen;
      times.push(arrived - start);
    }
    return { count, p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times) };
  },

  async close() {
    for (const { db } of databases.values()) await db.close();
    databases.clear();
  },
});
