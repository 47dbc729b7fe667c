import {
  pullQueryBuilderFromRxSchema,
  pullStreamBuilderFromRxSchema,
  pushQueryBuilderFromRxSchema,
  replicateGraphQL,
} from "rxdb/plugins/replication-graphql";

// GraphQL answers null for a field a document does not have: let the schema say so.
export const noteSchema = {
  version: 0,
  primaryKey: "id",
  type: "object",
  properties: {
    id: { type: "string", maxLength: 100 },
    title: { type: ["string", "null"] },
    body: { type: ["string", "null"] },
    tags: { type: ["array", "null"], items: { type: "string" } },
    views: { type: ["integer", "null"] },
    tenantId: { type: ["string", "null"] },
  },
  required: ["id"],
};

// RxDB 17.6's builders write `tags {}` for an array field with `items`: give them the
// schema without (the collection keeps it).
const withoutItems = (schema) => ({
  ...schema,
  properties: Object.fromEntries(
    Object.entries(schema.properties).map(([name, { items, ...field }]) => [name, field]),
  ),
});

// Sync `collection` with the server's pull<Model>, push<Model> and stream<Model>; `model`
// is the model's name with a lower-case first letter ("note", "financialRecord").
// includeWsHeaders: the token also goes in the WebSocket's connection_init.
export function replicateModel(collection, model, options) {
  const { http, ws, token, includeWsHeaders, ...more } = options;
  const input = { schema: withoutItems(collection.schema.jsonSchema), checkpointFields: ["seq"] };
  return replicateGraphQL({
    collection,
    replicationIdentifier: `graphql-repl:${http}:${model}`,
    url: { http, ws },
    headers: { Authorization: `Bearer ${token}` }, // HTTP, and stream<Model>'s `headers`
    pull: {
      queryBuilder: pullQueryBuilderFromRxSchema(model, input),
      streamQueryBuilder: pullStreamBuilderFromRxSchema(model, input),
      includeWsHeaders,
      // Give it: without, RxDB 17.6 asks for pages of 20 but takes a page of fewer than
      // 100 for the last one, so a pull stops after 20 documents.
      batchSize: 100,
    },
    push: { queryBuilder: pushQueryBuilderFromRxSchema(model, input) },
    live: true,
    ...more,
  });
}
