// Subscribe to graphql-repl's changeFeed with the npm `graphql-ws` client and print what
// happens as JSON lines on stdout, for tests/api/test_node_client.py:
//
//   node feed-client.mjs <ws-url> <token> <model> <since|-> <count>
//
//   {"event": "connected"}                    the server acknowledged connection_init
//   {"change": {...}}                          one changeFeed event (up to <count> of them)
//   {"error": {"code": ..., "reason": ...}}    the socket closed with an error close code
//   {"error": {"graphql": [...]}}              the subscription ended with GraphQL errors
//   {"event": "done"}                          <count> events received; exits 0
//
// Exits 0 after <count> events, 2 on an error.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, model, sinceArg, countArg] = process.argv.slice(2);
const since = sinceArg === "-" ? null : sinceArg;
const count = Number(countArg);

const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0,
  lazy: true,
  on: { connected: () => print({ event: "connected" }) },
});

const query = `subscription ($model: String!, $since: Checkpoint) {
  changeFeed(model: $model, since: $since) { model modelId type rev checkpoint data }
}`;

let received = 0;
const finish = async (code) => {
  await client.dispose();
  process.exit(code);
};

client.subscribe(
  { query, variables: { model, since } },
  {
    next: (result) => {
      if (result.errors) {
        print({ error: { graphql: result.errors } });
        finish(2);
        return;
      }
      print({ change: result.data.changeFeed });
      received += 1;
      if (received >= count) {
        print({ event: "done" });
        finish(0);
      }
    },
    error: (err) => {
      if (Array.isArray(err)) {
        print({ error: { graphql: err } });
      } else if (err && typeof err.code === "number") {
        print({ error: { code: err.code, reason: String(err.reason ?? "") } });
      } else {
        print({ error: { message: String(err && err.message ? err.message : err) } });
      }
      finish(2);
    },
    complete: () => {
      print({ event: "complete", received });
      finish(received >= count ? 0 : 2);
    },
  },
);
