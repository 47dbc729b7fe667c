import { explorerPlugin } from '@graphiql/plugin-explorer';
import { GraphiQL } from 'graphiql';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import { fetcher } from './fetcher.js';

const DEFAULT_QUERY = `# graphql_repl. Put a token in the Headers tab below:
#   {"Authorization": "Bearer <token>"}
# (graphql-repl token create --role admin prints one),
# then run an operation (Ctrl-Enter), for example:
#
#   { notes(limit: 10) { id title } }
#   subscription { changeFeed(model: "Note") { modelId type } }
`;

const plugins = [explorerPlugin()];

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    plugins={plugins}
    defaultQuery={DEFAULT_QUERY}
    isHeadersEditorEnabled
  />,
);
