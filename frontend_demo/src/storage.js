// What the board keeps in localStorage, per server and token ("scope"):
// - per model, the documents as the server last sent them (rev, data, clock) and the
//   checkpoint of the last change applied: saved together, so a reload resumes the feed
//   exactly where the saved documents end;
// - the outbox: local edits not yet accepted by the server (one entry per document);
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
    this.outbox = new Map(load(`${this.prefix}.outbox`, []));
    this.mine = load(`${this.prefix}.mine`, {});
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

  /** The outbox is saved at once: an edit must survive a reload right after it. */
  saveOutbox() {
    localStorage.setItem(`${this.prefix}.outbox`, JSON.stringify([...this.outbox]));
    localStorage.setItem(`${this.prefix}.mine`, JSON.stringify(this.mine));
  }
}
