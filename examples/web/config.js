// Where the authql API is. Fixed here, not read from the page's URL: a link naming
// another API would have this page send that server the password someone types.
export const API_URL = "http://127.0.0.1:8000/graphql";
