// The page: renders the replica (notes, users, conflicts) and turns clicks into edits.

import { loadToken, saveToken } from "./storage.js";
import { Sync } from "./sync.js";

const STATE_LABELS = {
  idle: "no token",
  connecting: "connecting",
  online: "online",
  reconnecting: "reconnecting",
  offline: "offline",
  unauthorized: "token refused",
};
const LOG_LIMIT = 30;

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
  const { title = "", body = "", tags = [] } = note.data;
  const show = () => {
    editing.delete(key);
    card.replaceChildren(
      h("h3", { testid: "note-title" }, title || "(untitled)"),
      h("p", { testid: "note-body" }, body),
      h("ul", { class: "tags", testid: "note-tags" }, (tags ?? []).map((t) => h("li", {}, t))),
      h(
        "div",
        { class: "card-foot" },
        note.pending && h("span", { class: "badge pending", testid: "note-pending" }, "queued"),
        note.merged &&
          h(
            "span",
            { class: "badge merged", testid: "note-merged", title: `yours: ${note.merged.mine.join(", ")}` },
            "merged",
          ),
        h("span", { class: "spacer" }),
        h("button", { class: "link", testid: "edit-note", onclick: edit }, "Edit"),
        h("button", { class: "link danger", testid: "delete-note", onclick: () => sync.remove("Note", note.id) }, "Delete"),
      ),
    );
  };
  const edit = () => {
    editing.set(key, true);
    const titleInput = h("input", { testid: "edit-title", value: title });
    const bodyInput = h("textarea", { testid: "edit-body", rows: 3 });
    bodyInput.value = body;
    const tagsInput = h("input", { testid: "edit-tags", value: (tags ?? []).join(", ") });
    const save = (event) => {
      event.preventDefault();
      const patch = {};
      if (titleInput.value !== title) patch.title = titleInput.value;
      if (bodyInput.value !== body) patch.body = bodyInput.value;
      const newTags = parseTags(tagsInput.value);
      if (JSON.stringify(newTags) !== JSON.stringify(tags ?? [])) patch.tags = newTags;
      show();
      if (Object.keys(patch).length) sync.update("Note", note.id, patch);
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
  if (!sync.replica) return;
  const data = { title: form.title.value.trim(), body: form.body.value };
  const tags = parseTags(form.tags.value);
  if (tags.length) data.tags = tags;
  sync.create("Note", data);
  form.reset();
  form.title.focus();
});

// -- users ----------------------------------------------------------------------------------

function userRow(user) {
  const key = `User:${user.id}`;
  const row = h("li", { testid: "user", dataset: { id: user.id } });
  const { name = "", email = "" } = user.data;
  const show = () => {
    editing.delete(key);
    row.replaceChildren(
      h("span", { class: "name", testid: "user-name" }, name),
      h("span", { class: "email", testid: "user-email" }, email ?? ""),
      user.pending ? h("span", { class: "badge pending", testid: "user-pending" }, "queued") : "",
      h("button", { class: "link", testid: "edit-user", onclick: edit }, "Edit"),
      h("button", { class: "link danger", testid: "delete-user", onclick: () => sync.remove("User", user.id) }, "Delete"),
    );
  };
  const edit = () => {
    editing.set(key, true);
    const nameInput = h("input", { testid: "edit-user-name", value: name });
    const emailInput = h("input", { testid: "edit-user-email", value: email ?? "" });
    const save = (event) => {
      event.preventDefault();
      const patch = {};
      if (nameInput.value !== name) patch.name = nameInput.value;
      if (emailInput.value !== (email ?? "")) patch.email = emailInput.value;
      show();
      if (Object.keys(patch).length) sync.update("User", user.id, patch);
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
  if (!sync.replica) return;
  const data = { name: form.name.value.trim() };
  if (form.email.value.trim()) data.email = form.email.value.trim();
  sync.create("User", data);
  form.reset();
});

// -- conflict inbox -------------------------------------------------------------------------

function conflictCard(conflict) {
  const key = `Conflict:${conflict.model}:${conflict.modelId}`;
  const mine = sync.isMine(conflict);
  // Which side is "mine": the version this browser pushed (the source) when it pushed
  // one; otherwise the server's current version (the target) is the one shown here.
  const [mySide, theirSide] = mine ? ["source", "target"] : ["target", "source"];
  const using = { source: "SOURCE", target: "TARGET" };
  const data = { mine: conflict[`${mySide}Data`] ?? {}, theirs: conflict[`${theirSide}Data`] ?? {} };
  const names = conflict.fields.length
    ? conflict.fields
    : [...new Set([...Object.keys(data.mine), ...Object.keys(data.theirs)])].filter(
        (n) => n !== "id" && JSON.stringify(data.mine[n]) !== JSON.stringify(data.theirs[n]),
      );
  const card = h("div", { class: "conflict", testid: "conflict", dataset: { id: conflict.modelId, model: conflict.model } });
  const act = async (button, resolution, payload) => {
    button.disabled = true;
    try {
      await sync.resolve(conflict, resolution, payload);
    } catch (error) {
      sync.log(`Could not resolve: ${error.message}`, "error");
      button.disabled = false;
    } finally {
      editing.delete(key);
    }
  };
  const inputs = {};
  const table = h(
    "table",
    {},
    h("tr", {}, h("th", {}, ""), h("th", {}, mine ? "mine" : "server"), h("th", {}, mine ? "theirs" : "incoming"), h("th", {}, "result")),
    names.map((name) => {
      inputs[name] = h("input", {
        testid: `resolve-${name}`,
        value: data.mine[name] ?? "",
        onfocus: () => editing.set(key, true),
      });
      return h(
        "tr",
        {},
        h("th", {}, name),
        h("td", { testid: "mine-value" }, String(data.mine[name] ?? "")),
        h("td", { testid: "theirs-value" }, String(data.theirs[name] ?? "")),
        h("td", {}, inputs[name]),
      );
    }),
  );
  card.append(
    h("div", { class: "conflict-head" }, h("strong", {}, `${conflict.model} ${data.theirs.name ?? data.mine.name ?? conflict.modelId}`)),
    table,
    h(
      "div",
      { class: "card-foot" },
      h("button", { testid: mine ? "keep-mine" : "keep-server", onclick: (e) => act(e.target, using[mySide]) }, mine ? "Keep mine" : "Keep server's"),
      h("button", { testid: mine ? "keep-theirs" : "keep-incoming", onclick: (e) => act(e.target, using[theirSide]) }, mine ? "Keep theirs" : "Keep incoming"),
      h(
        "button",
        {
          testid: "keep-edited",
          onclick: (e) => {
            const merged = { ...(conflict.targetData ?? {}), id: conflict.modelId };
            for (const [name, input] of Object.entries(inputs)) merged[name] = input.value;
            act(e.target, "MANUAL", merged);
          },
        },
        "Save edited",
      ),
    ),
  );
  return card;
}

// -- page -----------------------------------------------------------------------------------

function render() {
  const notes = sync.view("Note").reverse(); // newest first
  syncList($("#notes"), notes, (n) => `Note:${n.id}`, noteCard);
  $("#note-count").textContent = notes.length;
  if (!notes.length) $("#notes").append(h("p", { class: "empty" }, sync.replica ? "No notes yet." : "Paste a token to start."));
  const users = sync.view("User").sort((a, b) => (a.data.name ?? "").localeCompare(b.data.name ?? ""));
  syncList($("#users"), users, (u) => `User:${u.id}`, userRow);
  const conflicts = sync.conflicts.map((c) => ({ ...c, mine: sync.isMine(c) }));
  syncList($("#inbox"), conflicts, (c) => `Conflict:${c.model}:${c.modelId}`, conflictCard);
  if (!conflicts.length) $("#inbox").append(h("p", { class: "empty" }, "No conflicts."));
  $("#conflict-count").textContent = conflicts.length;
  const pending = $("#pending");
  pending.dataset.count = sync.pending;
  pending.textContent = sync.pending ? `${sync.pending} edit${sync.pending === 1 ? "" : "s"} queued` : "";
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
  saveToken(token);
  sync.connect(token);
});

$("#token").value = loadToken();
renderState();
sync.connect($("#token").value.trim());
