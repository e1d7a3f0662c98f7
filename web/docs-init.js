// Swagger UI for the gateway's own OpenAPI document (served beside this page, so it works under
// ROUTE_PREFIX and without the internet). A file, not an inline script: the page's
// Content-Security-Policy allows scripts from this origin only.
window.ui = SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: false,
});
