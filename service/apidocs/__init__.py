"""The API's own documentation, offline: Swagger UI (from the swagger-ui-bundle-v2 package), ReDoc (vendored),
the OpenAPI security schemes and examples, and the small home page at `/`."""
