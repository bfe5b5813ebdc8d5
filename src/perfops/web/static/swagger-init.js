// Swagger UI for /docs, from the assets bundled by fastapi-offline (no CDN). Served as a file so
// the page's Content-Security-Policy allows no inline script (web/security.py).
window.ui = SwaggerUIBundle({
  url: "/openapi.json", dom_id: "#swagger-ui", layout: "BaseLayout", deepLinking: true,
  showExtensions: true, showCommonExtensions: true, validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
});
