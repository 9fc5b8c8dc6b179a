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

const fetcher = GraphiQL.createFetcher({ url: window.location.href.split("?")[0] });
const explorer = GraphiQLPluginExplorer.explorerPlugin();

function AuthqlGraphiQL() {
  const [query, setQuery] = React.useState(parameters.get("query") || EXAMPLE_QUERY);
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
    shouldPersistHeaders: true,
    inputValueDeprecation: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(AuthqlGraphiQL));
