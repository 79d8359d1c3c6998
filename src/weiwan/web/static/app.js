// weiwan pages: charts from their JSON option blocks, re-drawn after htmx swaps; CSRF header
// on every htmx request comes from hx-headers on <body>. No build step, no framework.
(function () {
  "use strict";

  function drawCharts(root) {
    if (typeof echarts === "undefined") { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.querySelector('script[data-chart-option="' + el.id + '"]');
      if (!source) { return; }
      var chart = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "svg" });
      chart.setOption(JSON.parse(source.textContent), true);
    });
  }

  window.addEventListener("resize", function () {
    if (typeof echarts === "undefined") { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = echarts.getInstanceByDom(el);
      if (chart) { chart.resize(); }
    });
  });

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });
})();
