import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { isSubscriptionOperation } from "@apollo/client/utilities";
import { createClient } from "graphql-ws";

export const NOTE = gql`
  fragment NoteFields on Note { id title body tags views tenantId _deleted _rev }
`;
const PULL = gql`
  query PullNote($checkpoint: NoteInputCheckpoint, $limit: Int!) {
    pullNote(checkpoint: $checkpoint, limit: $limit) {
      documents { ...NoteFields }
      checkpoint { seq }
    }
  }
  ${NOTE}
`;
const STREAM = gql`
  subscription StreamNote($since: Checkpoint) {
    streamNote(since: $since) { documents { ...NoteFields } checkpoint { seq } }
  }
  ${NOTE}
`;

export function apolloClient({ http, ws, token }) {
  const headers = { Authorization: `Bearer ${token}` };
  // shouldRetry: also when a restarting server refuses a connection for a moment (by
  // default graphql-ws retries only connections it had that closed), as RxDB does.
  const socket = createClient({ url: ws, connectionParams: headers, shouldRetry: () => true });
  return new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.split(
      ({ query }) => isSubscriptionOperation(query),
      new GraphQLWsLink(socket),
      new HttpLink({ uri: http, headers }),
    ),
  });
}

// Every Note lands in the normalised cache as `Note:<id>`: first the pulled pages, then
// each streamed batch (from where the pull ended: nothing is missed). Tombstones are
// evicted, so queries holding them drop them.
export async function followNotes(client, { limit = 500 } = {}) {
  let checkpoint = null;
  for (;;) {
    const { data } = await client.query({
      query: PULL,
      variables: { checkpoint, limit },
      fetchPolicy: "network-only",
    });
    const page = data.pullNote;
    checkpoint = page.checkpoint && { seq: page.checkpoint.seq }; // without its __typename
    evictTombstones(client, page.documents);
    if (page.documents.length < limit) break;
  }
  const stream = client.subscribe({ query: STREAM, variables: { since: checkpoint?.seq } });
  return stream.subscribe(({ data }) => evictTombstones(client, data.streamNote.documents));
}

function evictTombstones(client, documents) {
  const tombstones = documents.filter((doc) => doc._deleted);
  for (const doc of tombstones) client.cache.evict({ id: client.cache.identify(doc) });
  if (tombstones.length) client.cache.gc();
}
