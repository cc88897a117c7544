// Swagger UI for /docs, from the vendored bundle (no CDN); the schema validator badge is off (it calls out).
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null, deepLinking: true,
                              layout: "BaseLayout", presets: [SwaggerUIBundle.presets.apis] });
