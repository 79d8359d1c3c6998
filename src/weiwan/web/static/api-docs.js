// Starts Swagger UI (vendored) on the API documentation page: the OpenAPI document's address
// comes from the page's data attribute, so the page needs no inline script.
(function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: root.dataset.openapiUrl, dom_id: "#swagger-ui" });
})();
