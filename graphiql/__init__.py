"""GraphiQL served from files shipped in this repository, so the page works offline and under
a Content-Security-Policy that allows nothing but our own origin."""
