"""Dashboard views: small functions that call selectors and services and render a template."""
