// GraphQL over HTTP (fetch) and the operations the board uses.

/** The request never got an answer (offline, server down): worth retrying later. */
export class NetworkError extends Error {}

/** The server answered with GraphQL errors; `code` is the first one's extensions.code. */
export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code ?? null;
  }
}

export async function request(url, token, query, variables = {}) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new NetworkError(error.message);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new NetworkError(`HTTP ${response.status}`);
  }
  if (body.errors?.length) throw new GraphQLError(body.errors);
  return body.data;
}

const CHANGE = "model modelId type rev prev checkpoint data clock";
const CONFLICT = "model modelId sourceRev targetRev sourceData targetData fields";

export const CHANGES = `query Changes($model: String!, $since: Checkpoint, $limit: Int) {
  changes(model: $model, since: $since, limit: $limit) { changes { ${CHANGE} } checkpoint hasMore }
}`;

export const CHANGE_FEED = `subscription Feed($model: String!, $since: Checkpoint) {
  changeFeed(model: $model, since: $since) { ${CHANGE} }
}`;

export const BULK_UPDATE = `mutation Push($model: String!, $updates: [UpdateInput!]!) {
  bulkUpdate(model: $model, updates: $updates) {
    results { modelId status rev data error }
    conflicts { ${CONFLICT} }
    checkpoint
  }
}`;

export const CONFLICTS = `query Conflicts($model: String!) { conflicts(model: $model) { ${CONFLICT} } }`;

export const RESOLVE = `mutation Resolve($model: String!, $modelId: ID!, $using: Resolution!, $data: JSON) {
  resolveConflict(model: $model, modelId: $modelId, using: $using, data: $data)
}`;
