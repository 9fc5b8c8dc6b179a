// authql's GraphiQL page: GraphiQL with the explorer plugin and the headers pane (where an
// `Authorization: Bearer ...` header goes). A file, not an inline script, so the page's
// Content-Security-Policy can allow scripts from our own origin only.
"use strict";

const EXAMPLE_QUERY = `# Welcome to authql's GraphiQL.
#
# Sign up or log in with the mutations in the docs or the explorer, then put
#   {"Authorization": "Bearer <accessToken>"}
# in the Headers pane below and run:
#
#   { me { email } }
#
# Run: Ctrl-Enter. Autocomplete: Ctrl-Space.
`;

// A shared link may prefill the query and variables (never the headers: a link must not
// choose whose token the page sends).
const parameters = new URLSearchParams(window.location.search);

function updateURL(name, value) {
  if (value) {
    parameters.set(name, value);
  } else {
    parameters.delete(name);
  }
  const search = parameters.toString();
  history.replaceState(null, "", search ? "?" + search : window.location.pathname);
}

// The admin API's page (/admin/graphql) is the same page: its key is typed into the Headers
// pane for each visit and never kept, and its tabs and history are kept apart from the
// public page's (the two share an origin, so they would share localStorage).
const ADMIN = window.location.pathname.startsWith("/admin/");
const ADMIN_QUERY = `# authql's admin API. Put
#   {"Authorization": "Bearer <ADMIN_API_KEY or a key from createAdminKey>"}
# in the Headers pane below (it is not kept) and run:
#
#   { users(first: 10) { edges { node { id email status } } } }
#
# Run: Ctrl-Enter. Autocomplete: Ctrl-Space.
`;
const PREFIX = ADMIN ? "authql-admin:" : "";

// Every `headers` field of a stored JSON value emptied (the history keeps each query's
// headers, whatever shouldPersistHeaders says): no admin key is written to storage.
function withoutHeaders(value) {
  if (Array.isArray(value)) {
    return value.map(withoutHeaders);
  }
  if (value && typeof value === "object") {
    const copy = {};
    for (const [name, item] of Object.entries(value)) {
      copy[name] = name === "headers" ? null : withoutHeaders(item);
    }
    return copy;
  }
  return value;
}

function kept(value) {
  if (!ADMIN) {
    return value;
  }
  try {
    return JSON.stringify(withoutHeaders(JSON.parse(value)));
  } catch (error) {
    return value; // not JSON: a plain setting
  }
}

const storage = {
  getItem: (key) => localStorage.getItem(PREFIX + key),
  setItem: (key, value) => localStorage.setItem(PREFIX + key, kept(value)),
  removeItem: (key) => localStorage.removeItem(PREFIX + key),
  clear: () => localStorage.clear(),
  get length() {
    return localStorage.length;
  },
};

const fetcher = GraphiQL.createFetcher({ url: window.location.href.split("?")[0] });
const explorer = GraphiQLPluginExplorer.explorerPlugin();

function AuthqlGraphiQL() {
  const [query, setQuery] = React.useState(parameters.get("query") || (ADMIN ? ADMIN_QUERY : EXAMPLE_QUERY));
  const [variables, setVariables] = React.useState(parameters.get("variables") || undefined);

  return React.createElement(GraphiQL, {
    fetcher: fetcher,
    plugins: [explorer],
    query: query,
    variables: variables,
    onEditQuery: function (value) {
      setQuery(value);
      updateURL("query", value);
    },
    onEditVariables: function (value) {
      setVariables(value);
      updateURL("variables", value);
    },
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: !ADMIN,
    storage: storage,
    inputValueDeprecation: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(AuthqlGraphiQL));
