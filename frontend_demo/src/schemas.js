// The collections this browser keeps: the server's Note and User models (CONTRACT §4) as
// RxDB schemas, and the inbox of conflicts this browser has to settle (local only).
//
// A replicated schema lists every field of its model: RxDB pushes whole documents, so a
// field missing here would be removed on the server by the next edit.

const text = { type: "string" };
const id = { type: "string", maxLength: 64 };

export const NOTE = {
  version: 0,
  primaryKey: "id",
  type: "object",
  properties: {
    id,
    title: text,
    body: text,
    tags: { type: "array", items: text },
    views: { type: "integer" },
    tenantId: text,
  },
  required: ["id"],
};

export const USER = {
  version: 0,
  primaryKey: "id",
  type: "object",
  properties: { id, name: text, email: text },
  required: ["id"],
};

/** One conflict the server refused to merge: this browser's version and the server's. */
export const CONFLICT = {
  version: 0,
  primaryKey: "id",
  type: "object",
  properties: {
    id: { type: "string", maxLength: 128 }, // "<collection>:<document id>"
    collectionName: text, // "users"
    docId: text,
    mine: { type: "object" },
    theirs: { type: "object" },
  },
  required: ["id", "collectionName", "docId", "mine", "theirs"],
};

/**
 * The schema as RxDB's GraphQL query builders should see it: without `items` on list
 * fields (RxDB 17.6's builders turn them into an invalid selection, `tags {}`).
 */
export function forQueryBuilders(schema) {
  const properties = {};
  for (const [name, field] of Object.entries(schema.properties)) {
    const { items, ...rest } = field;
    properties[name] = field.type === "array" ? rest : field;
  }
  return { ...schema, properties };
}
