// The fetcher GraphiQL runs every operation through. Queries and mutations go to
// /graphql over HTTP; subscriptions over graphql-ws on the same path. The headers typed
// into GraphiQL's Headers tab are sent with every HTTP request, and their Authorization
// goes into the WebSocket's connection_init payload, where the server reads the token.
import { getOperationAST, parse } from 'graphql';
import { createClient } from 'graphql-ws';

const HTTP_URL = new URL('/graphql', window.location.href).href;
const WS_URL = HTTP_URL.replace(/^http/, 'ws');

function headerValue(headers, name) {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (key.toLowerCase() === wanted && value != null) {
      return String(value);
    }
  }
  return undefined;
}

function isSubscription(params, documentAST) {
  try {
    const document = documentAST ?? parse(params.query);
    return getOperationAST(document, params.operationName)?.operation === 'subscription';
  } catch {
    return false; // the server reports the syntax error
  }
}

// One lazy client per Authorization value: it connects on the first subscription and
// closes when the last one ends, so a changed token takes effect on the next run.
const clients = new Map();

function wsClient(authorization) {
  const key = authorization ?? '';
  let client = clients.get(key);
  if (client === undefined) {
    client = createClient({
      url: WS_URL,
      connectionParams: authorization === undefined ? {} : { Authorization: authorization },
      lazy: true,
      retryAttempts: 0,
    });
    clients.set(key, client);
  }
  return client;
}

// A socket the server closed (4403: it refused the token) or that failed to connect.
function closeMessage(event) {
  if (event instanceof Error) {
    return event.message;
  }
  const reason = event?.reason ? `: ${event.reason}` : '';
  const hint = event?.code === 4403 ? ' (check the token in the Headers tab)' : '';
  return `WebSocket closed (${event?.code ?? 'no code'})${reason}${hint}`;
}

async function* subscribe(params, authorization) {
  try {
    yield* wsClient(authorization).iterate(params);
  } catch (error) {
    // Shown in the result pane like any GraphQL error response.
    yield { errors: Array.isArray(error) ? error : [{ message: closeMessage(error) }] };
  }
}

async function post(params, headers) {
  const response = await fetch(HTTP_URL, {
    method: 'POST',
    headers: {
      accept: 'application/graphql-response+json, application/json',
      'content-type': 'application/json',
      ...headers,
    },
    body: JSON.stringify(params),
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${response.status}: ${text.slice(0, 500)}`);
  }
}

export function fetcher(params, options) {
  const headers = options?.headers ?? {};
  if (isSubscription(params, options?.documentAST)) {
    return subscribe(params, headerValue(headers, 'authorization'));
  }
  return post(params, headers);
}
