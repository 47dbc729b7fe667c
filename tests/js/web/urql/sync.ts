import { Client, fetchExchange, subscriptionExchange } from "@urql/core";
import { cacheExchange } from "@urql/exchange-graphcache";
import { createClient, type Client as WsClient } from "graphql-ws";
import { pipe, subscribe } from "wonka";
import {
  PullNoteDocument,
  StreamNoteDocument,
  type NoteInputCheckpoint,
  type PullNoteQueryVariables,
  type StreamNoteSubscription,
} from "../generated/graphql.js";

// A normalised cache (graphcache): stream<Model> batches and push<Model> answers update
// its entities by `__typename` and `id` (a tombstone stays as `_deleted: true`); the
// batches and their checkpoints have no id and are kept inside their results.
export function urqlClient(http: string, ws: WsClient, token: string): Client {
  return new Client({
    url: http,
    fetchOptions: { headers: { Authorization: `Bearer ${token}` } },
    exchanges: [
      cacheExchange({ keys: { NotePullBulk: () => null, NoteCheckpoint: () => null } }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? "" };
          return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }) };
        },
      }),
    ],
  });
}

// shouldRetry: also when a restarting server refuses a connection for a moment (by
// default graphql-ws retries only connections it had that closed), as RxDB does.
// webSocketImpl: where there is no global WebSocket (Node 20: the `ws` package).
export const socket = (url: string, token: string, webSocketImpl?: unknown): WsClient =>
  createClient({
    url,
    connectionParams: { Authorization: `Bearer ${token}` },
    shouldRetry: () => true,
    webSocketImpl,
  });

// Load the Notes there are, page by page, then follow the stream from where the pull
// ended (nothing is missed): every Note lands in the cache. Returns the unsubscribe.
export async function followNotes(
  client: Client,
  onBatch: (batch: StreamNoteSubscription["streamNote"]) => void = () => {},
  limit = 500,
): Promise<() => void> {
  let checkpoint: NoteInputCheckpoint | null = null;
  for (;;) {
    const variables: PullNoteQueryVariables = { checkpoint, limit };
    const policy = { requestPolicy: "network-only" } as const;
    const result = await client.query(PullNoteDocument, variables, policy);
    if (!result.data) throw result.error;
    const page = result.data.pullNote;
    if (page.checkpoint) checkpoint = { seq: page.checkpoint.seq }; // without its __typename
    if (page.documents.length < limit) break;
  }
  const stream = client.subscription(StreamNoteDocument, { since: checkpoint?.seq });
  return pipe(
    stream,
    subscribe((result) => {
      if (result.error) console.error(result.error);
      else if (result.data) onBatch(result.data.streamNote);
    }),
  ).unsubscribe;
}
