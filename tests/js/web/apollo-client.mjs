// Apollo Client 4 with the normalised cache filled by apollo-sync.mjs (pullNote, then
// streamNote, tombstones evicted), driven by tests/js_clients/test_apollo.py through
// lib/commands.mjs. What Apollo warns about (console.warn, console.error) is recorded.
import { gql } from "@apollo/client";
import { filter } from "rxjs";
import WebSocket from "ws";
import { serve, within } from "./lib/commands.mjs";
import { apolloClient, followNotes, NOTE } from "./apollo-sync.mjs";

// Node 20 has no global WebSocket (Node 22 and browsers do); Apollo's link uses it too.
globalThis.WebSocket ??= WebSocket;

const warnings = [];
for (const level of ["warn", "error"]) {
  console[level] = (...args) => warnings.push(args.map(String).join(" "));
}

const NOTES = gql`
  query Notes($where: JSON) { notes(where: $where) { ...NoteFields } }
  ${NOTE}
`;

let client;
let stream;
let watched; // the ObservableQuery of `watch`

const fragmentOf = (id) => ({ fragment: NOTE, from: { __typename: "Note", id } });
const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const matches = (doc, fields) => doc != null && Object.entries(fields).every(([k, v]) => same(doc[k], v));

serve({
  async open({ http, ws, token }) {
    client = apolloClient({ http, ws, token });
    stream = await followNotes(client);
  },

  // Waits until the cache holds Note `id` with `fields` (with `gone`: until it holds none),
  // then answers what readFragment returns.
  async waitFragment({ id, fields = {}, gone = false }) {
    let last;
    const wanted = (result) => {
      last = result;
      const complete = result.dataState === "complete";
      return gone ? !complete : complete && matches(result.data, fields);
    };
    const wish = gone ? "gone" : `with ${JSON.stringify(fields)}`;
    await within(client.watchFragment(fragmentOf(id)).pipe(filter(wanted)), () =>
      `Note:${id} is ${JSON.stringify(last)}, not ${wish}`,
    );
    return client.readFragment({ fragment: NOTE, id: client.cache.identify({ __typename: "Note", id }) });
  },

  // Watches `notes(where: {id: {inq: ids}})` (cache-and-network).
  async watch({ ids }) {
    watched = client.watchQuery({ query: NOTES, variables: { where: { id: { inq: ids } } } });
    const result = await within(watched.pipe(filter((r) => r.dataState === "complete")), () => "no notes");
    return result.data.notes;
  },

  // Waits until the watched query's notes have these ids (in this order).
  async waitWatched({ ids }) {
    let last;
    const wanted = (r) => {
      last = r.data?.notes?.map((n) => n.id);
      return r.dataState === "complete" && same(last, ids);
    };
    const what = () => `the watched notes are ${JSON.stringify(last)}, not ${JSON.stringify(ids)}`;
    return (await within(watched.pipe(filter(wanted)), what)).data.notes;
  },

  async cached() {
    return client.cache.extract();
  },

  async warnings() {
    return warnings;
  },

  async close() {
    stream?.unsubscribe();
    client?.stop();
  },
});
