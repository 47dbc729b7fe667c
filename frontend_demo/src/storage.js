// What the board keeps in localStorage, per server and token ("scope"):
// - per model, the documents as the server last sent them (rev, data, clock) and the
//   checkpoint of the last change applied: saved together, so a reload resumes the feed
//   exactly where the saved documents end;
// - the outbox: local edits not yet accepted by the server, one key per document, so
//   that two windows of one browser never overwrite each other's queued edits;
// - the conflicts this browser caused (so the inbox can say which side is "mine").

const PREFIX = "graphql_repl.demo.v1";
const SAVE_DELAY_MS = 100;

function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

function load(key, fallback) {
  try {
    const text = localStorage.getItem(key);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

export function loadToken() {
  return localStorage.getItem(`${PREFIX}.token`) ?? "";
}

export function saveToken(token) {
  localStorage.setItem(`${PREFIX}.token`, token);
}

export class Replica {
  constructor(url, token, models) {
    this.prefix = `${PREFIX}.${fnv1a(`${url} ${token}`)}`;
    this.models = new Map();
    for (const model of models) {
      const saved = load(`${this.prefix}.model.${model}`, null);
      this.models.set(model, {
        checkpoint: saved?.checkpoint ?? null,
        docs: new Map(saved?.docs ?? []),
      });
    }
    this.outbox = this.loadAll("outbox");
    this.mine = this.loadAll("mine");
    this.dirty = new Set();
    this.timer = null;
    addEventListener("pagehide", () => this.saveNow());
  }

  checkpoint(model) {
    return this.models.get(model).checkpoint;
  }

  docs(model) {
    return this.models.get(model).docs;
  }

  doc(model, id) {
    return this.models.get(model).docs.get(id);
  }

  /** Apply one change from the server (a document or its deletion). */
  apply(model, change, checkpoint = change.checkpoint) {
    const state = this.models.get(model);
    if (change.type === "DELETE") state.docs.delete(change.modelId);
    else state.docs.set(change.modelId, { rev: change.rev, data: change.data, clock: change.clock ?? {} });
    if (checkpoint) state.checkpoint = checkpoint;
    this.schedule(model);
  }

  /** Replace a model's documents (a full load) and the checkpoint they end at. */
  replace(model, docs, checkpoint) {
    this.models.set(model, { checkpoint, docs });
    this.schedule(model);
  }

  /** Forget a model's documents (its checkpoint was refused: the store was recreated). */
  reset(model) {
    this.replace(model, new Map(), null);
  }

  schedule(model) {
    this.dirty.add(model);
    this.timer ??= setTimeout(() => this.saveNow(), SAVE_DELAY_MS);
  }

  saveNow() {
    clearTimeout(this.timer);
    this.timer = null;
    for (const model of this.dirty) {
      const { checkpoint, docs } = this.models.get(model);
      localStorage.setItem(`${this.prefix}.model.${model}`, JSON.stringify({ checkpoint, docs: [...docs] }));
    }
    this.dirty.clear();
  }

  // The outbox and the conflicts are saved at once: an edit must survive a reload.

  queue(key, entry) {
    this.outbox.set(key, entry);
    localStorage.setItem(`${this.prefix}.outbox.${key}`, JSON.stringify(entry));
  }

  unqueue(key) {
    this.outbox.delete(key);
    localStorage.removeItem(`${this.prefix}.outbox.${key}`);
  }

  /** Remember (or, with null, forget) the source rev of a conflict this browser caused. */
  setMine(key, sourceRev) {
    if (sourceRev === null) this.mine.delete(key);
    else this.mine.set(key, sourceRev);
    if (sourceRev === null) localStorage.removeItem(`${this.prefix}.mine.${key}`);
    else localStorage.setItem(`${this.prefix}.mine.${key}`, JSON.stringify(sourceRev));
  }

  loadAll(kind) {
    const start = `${this.prefix}.${kind}.`;
    const out = new Map();
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key.startsWith(start)) out.set(key.slice(start.length), load(key, null));
    }
    return out;
  }
}
