// The page: renders the local database (notes, users, conflicts) and turns clicks into edits.

import { Sync, content } from "./sync.js";

const STATE_LABELS = {
  idle: "no token",
  connecting: "connecting",
  online: "online",
  reconnecting: "reconnecting",
  offline: "offline",
  shared: "synced by another tab",
  unauthorized: "token refused",
};
const LOG_LIMIT = 30;
// A demo convenience: the token is kept in this origin's localStorage (use one made for it).
const TOKEN_KEY = "graphql_repl.demo.token";

const httpUrl = new URL("../graphql", location.href).href;
const sync = new Sync({ httpUrl, wsUrl: httpUrl.replace(/^http/, "ws") });
const $ = (selector) => document.querySelector(selector);
const editing = new Map(); // "Model:id" -> true while a card or row is being edited

/** A tiny element builder: h("p", { class: "x", dataset: {...} }, ...children). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "testid") el.dataset.testid = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const parseTags = (text) => [...new Set(text.split(",").map((t) => t.trim()).filter(Boolean))];

/**
 * Bring `container`'s children in line with `items` by key, rebuilding only the items
 * whose content changed, and never an item being edited (so typing is not interrupted).
 */
function syncList(container, items, key, build) {
  const existing = new Map([...container.children].filter((el) => el.dataset.key).map((el) => [el.dataset.key, el]));
  let previous = null;
  for (const item of items) {
    const k = key(item);
    const signature = JSON.stringify(item);
    let el = existing.get(k);
    existing.delete(k);
    if (!el || (!editing.has(k) && el.dataset.signature !== signature)) {
      const fresh = build(item);
      fresh.dataset.key = k;
      fresh.dataset.signature = signature;
      if (el) el.replaceWith(fresh);
      el = fresh;
    }
    const expected = previous ? previous.nextElementSibling : container.firstElementChild;
    if (expected !== el) {
      if (previous) previous.after(el);
      else container.prepend(el);
    }
    previous = el;
  }
  for (const el of existing.values()) el.remove();
  for (const el of [...container.children]) if (!el.dataset.key) el.remove();
}

// -- notes ----------------------------------------------------------------------------------

function noteCard(note) {
  const key = `Note:${note.id}`;
  const card = h("article", { class: "card", testid: "note", dataset: { id: note.id } });
  const { title, body, tags } = { title: "", body: "", tags: [], ...content(note.data) };
  const show = () => {
    editing.delete(key);
    card.replaceChildren(
      h("h3", { testid: "note-title" }, title || "(untitled)"),
      h("p", { testid: "note-body" }, body),
      h("ul", { class: "tags", testid: "note-tags" }, tags.map((t) => h("li", {}, t))),
      h(
        "div",
        { class: "card-foot" },
        note.pending && h("span", { class: "badge pending", testid: "note-pending" }, "queued"),
        note.merged &&
          h(
            "span",
            { class: "badge merged", testid: "note-merged", title: `yours: ${note.merged.join(", ")}` },
            "merged",
          ),
        h("span", { class: "spacer" }),
        h("button", { class: "link", testid: "edit-note", onclick: edit }, "Edit"),
        h("button", { class: "link danger", testid: "delete-note", onclick: () => sync.remove("notes", note.id) }, "Delete"),
      ),
    );
  };
  const edit = () => {
    editing.set(key, true);
    const titleInput = h("input", { testid: "edit-title", value: title });
    const bodyInput = h("textarea", { testid: "edit-body", rows: 3 });
    bodyInput.value = body;
    const tagsInput = h("input", { testid: "edit-tags", value: tags.join(", ") });
    const save = (event) => {
      event.preventDefault();
      const patch = {};
      if (titleInput.value !== title) patch.title = titleInput.value;
      if (bodyInput.value !== body) patch.body = bodyInput.value;
      const newTags = parseTags(tagsInput.value);
      if (JSON.stringify(newTags) !== JSON.stringify(tags)) patch.tags = newTags;
      show();
      if (Object.keys(patch).length) sync.update("notes", note.id, patch);
    };
    const cancel = () => {
      show();
      render();
    };
    card.replaceChildren(
      h(
        "form",
        { class: "edit", onsubmit: save },
        titleInput,
        bodyInput,
        tagsInput,
        h(
          "div",
          { class: "card-foot" },
          h("span", { class: "spacer" }),
          h("button", { type: "button", class: "link", testid: "cancel-edit", onclick: cancel }, "Cancel"),
          h("button", { testid: "save-note" }, "Save"),
        ),
      ),
    );
    titleInput.focus();
  };
  show();
  return card;
}

$("#new-note").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  if (!sync.ready) return;
  const data = { title: form.title.value.trim(), body: form.body.value };
  const tags = parseTags(form.tags.value);
  if (tags.length) data.tags = tags;
  sync.create("notes", data);
  form.reset();
  form.title.focus();
});

// -- users ----------------------------------------------------------------------------------

function userRow(user) {
  const key = `User:${user.id}`;
  const row = h("li", { testid: "user", dataset: { id: user.id } });
  const { name, email } = { name: "", email: "", ...content(user.data) };
  const show = () => {
    editing.delete(key);
    row.replaceChildren(
      h("span", { class: "name", testid: "user-name" }, name),
      h("span", { class: "email", testid: "user-email" }, email),
      user.pending ? h("span", { class: "badge pending", testid: "user-pending" }, "queued") : "",
      h("button", { class: "link", testid: "edit-user", onclick: edit }, "Edit"),
      h("button", { class: "link danger", testid: "delete-user", onclick: () => sync.remove("users", user.id) }, "Delete"),
    );
  };
  const edit = () => {
    editing.set(key, true);
    const nameInput = h("input", { testid: "edit-user-name", value: name });
    const emailInput = h("input", { testid: "edit-user-email", value: email });
    const save = (event) => {
      event.preventDefault();
      const patch = {};
      if (nameInput.value !== name) patch.name = nameInput.value;
      if (emailInput.value !== email) patch.email = emailInput.value;
      show();
      if (Object.keys(patch).length) sync.update("users", user.id, patch);
    };
    row.replaceChildren(
      h(
        "form",
        { class: "edit-user", onsubmit: save },
        nameInput,
        emailInput,
        h("button", { testid: "save-user" }, "Save"),
        h("button", { type: "button", class: "link", onclick: () => (show(), render()) }, "Cancel"),
      ),
    );
    nameInput.focus();
  };
  show();
  return row;
}

$("#new-user").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  if (!sync.ready) return;
  const data = { name: form.name.value.trim() };
  if (form.email.value.trim()) data.email = form.email.value.trim();
  sync.create("users", data);
  form.reset();
});

// -- conflict inbox -------------------------------------------------------------------------

function conflictCard(conflict) {
  const key = `Conflict:${conflict.id}`;
  const { mine, theirs } = conflict;
  const names = [...new Set([...Object.keys(mine), ...Object.keys(theirs)])].filter(
    (n) => n !== "id" && JSON.stringify(mine[n]) !== JSON.stringify(theirs[n]),
  );
  const shown = (doc, name) => (doc._deleted ? "(deleted)" : String(doc[name] ?? ""));
  const card = h("div", { class: "conflict", testid: "conflict", dataset: { id: conflict.docId, model: conflict.collectionName } });
  const act = async (button, choice, edited) => {
    button.disabled = true;
    try {
      await sync.settle(conflict, choice, edited);
    } catch (error) {
      sync.log(`Could not settle: ${error.message}`, "error");
      button.disabled = false;
    } finally {
      editing.delete(key);
    }
  };
  const inputs = {};
  const table = h(
    "table",
    {},
    h("tr", {}, h("th", {}, ""), h("th", {}, "mine"), h("th", {}, "theirs"), h("th", {}, "result")),
    names
      .filter((name) => name !== "_deleted")
      .map((name) => {
        inputs[name] = h("input", {
          testid: `resolve-${name}`,
          value: mine[name] ?? "",
          onfocus: () => editing.set(key, true),
        });
        return h(
          "tr",
          {},
          h("th", {}, name),
          h("td", { testid: "mine-value" }, shown(mine, name)),
          h("td", { testid: "theirs-value" }, shown(theirs, name)),
          h("td", {}, inputs[name]),
        );
      }),
  );
  const edited = () => Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, input.value]));
  card.append(
    h("div", { class: "conflict-head" }, h("strong", {}, `User ${theirs.name ?? mine.name ?? conflict.docId}`)),
    table,
    h(
      "div",
      { class: "card-foot" },
      h("button", { testid: "keep-mine", onclick: (e) => act(e.target, "mine") }, "Keep mine"),
      h("button", { testid: "keep-theirs", onclick: (e) => act(e.target, "theirs") }, "Keep theirs"),
      h("button", { testid: "keep-edited", onclick: (e) => act(e.target, "edited", edited()) }, "Save edited"),
    ),
  );
  return card;
}

// -- page -----------------------------------------------------------------------------------

function render() {
  const notes = sync.view("notes");
  syncList($("#notes"), notes, (n) => `Note:${n.id}`, noteCard);
  $("#note-count").textContent = notes.length;
  if (!notes.length) $("#notes").append(h("p", { class: "empty" }, sync.ready ? "No notes yet." : "Paste a token to start."));
  const users = sync.view("users").sort((a, b) => (a.data.name ?? "").localeCompare(b.data.name ?? ""));
  syncList($("#users"), users, (u) => `User:${u.id}`, userRow);
  const conflicts = sync.conflicts;
  syncList($("#inbox"), conflicts, (c) => `Conflict:${c.id}`, conflictCard);
  if (!conflicts.length) $("#inbox").append(h("p", { class: "empty" }, "No conflicts."));
  $("#conflict-count").textContent = conflicts.length;
  const pending = $("#pending");
  const count = sync.pending.size;
  pending.dataset.count = count;
  pending.textContent = count ? `${count} edit${count === 1 ? "" : "s"} queued` : "";
  $("#state").dataset.synced = sync.synced; // connected, nothing queued, everything stored
}

function renderState() {
  const badge = $("#state");
  badge.dataset.state = sync.state;
  badge.textContent = STATE_LABELS[sync.state] ?? sync.state;
}

sync.addEventListener("change", render);
sync.addEventListener("state", () => {
  renderState();
  render();
});
sync.addEventListener("log", ({ detail }) => {
  const log = $("#log");
  log.prepend(h("li", { class: `log-${detail.kind}`, testid: "log-entry" }, h("time", {}, detail.at.toLocaleTimeString()), " ", detail.message));
  while (log.children.length > LOG_LIMIT) log.lastElementChild.remove();
});

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("#token").value.trim();
  localStorage.setItem(TOKEN_KEY, token);
  sync.connect(token);
});

$("#token").value = localStorage.getItem(TOKEN_KEY) ?? "";
renderState();
sync.connect($("#token").value.trim());
