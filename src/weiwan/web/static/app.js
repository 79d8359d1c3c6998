// weiwan pages: charts from their JSON option blocks, re-drawn after htmx swaps; CSRF header
// on every htmx request comes from hx-headers on <body>. No build step, no framework. All page
// behaviour lives here (the content security policy allows no inline script or handler):
// elements say what they want with data-* attributes and one delegated listener acts.
(function () {
  "use strict";

  function drawCharts(root) {
    root.querySelectorAll("[data-chart][data-height]").forEach(function (el) {
      el.style.height = parseInt(el.getAttribute("data-height"), 10) + "px";
    });
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

  var nextCondition = 100;

  // campaign form: one more filter condition, a copy of the last one with fresh ids
  function addCondition() {
    var rows = document.getElementById("filter-rows");
    var copy = rows.lastElementChild.cloneNode(true);
    var n = nextCondition++;
    copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    copy.querySelectorAll("[id]").forEach(function (el) { el.id = el.id.replace(/-\d+$/, "-" + n); });
    copy.querySelectorAll("label[for]").forEach(function (el) {
      el.htmlFor = el.htmlFor.replace(/-\d+$/, "-" + n);
    });
    rows.appendChild(copy);
    copy.querySelector("select").focus();
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) { return; }
    var el;
    if ((el = target.closest("[data-check-all]"))) {
      document.querySelectorAll(el.getAttribute("data-check-all")).forEach(function (box) {
        box.checked = el.checked;
      });
    } else if ((el = target.closest("[data-set-target]"))) {
      var field = document.querySelector(el.getAttribute("data-set-target"));
      if (field) { field.value = el.getAttribute("data-set-value"); }
    } else if (target.closest("[data-print]")) {
      window.print();
    } else if ((el = target.closest("[data-remove-filter-row]"))) {
      if (document.querySelectorAll("#filter-rows .filter-row").length > 1) {
        el.closest(".filter-row").remove();
        htmx.trigger("#target-builder", "change");
      }
    } else if (target.closest("#add-condition")) {
      addCondition();
    }
  });

  // the target builder: a coded field's value input offers its labelled choices
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!(select instanceof HTMLSelectElement) || select.name !== "filter_field") { return; }
    var value = select.closest(".filter-row").querySelector("[name=filter_value]");
    if (!value) { return; }
    if (document.getElementById("choices-" + select.value)) {
      value.setAttribute("list", "choices-" + select.value);
    } else {
      value.removeAttribute("list");
    }
  });

  // recording an outcome: "wrong number" opens the data-quality report on the number
  document.addEventListener("change", function (event) {
    var input = event.target;
    var form = input instanceof Element ? input.closest("[data-wrong-number-opens-report]") : null;
    if (!form || input.name !== "outcome" || input.value !== "wrong_number" || !input.checked) {
      return;
    }
    var field = form.querySelector("[name=dq_field]");
    if (field && !field.value) { field.value = "msisdn"; }
    var details = form.querySelector(".data-wrong");
    if (details) { details.open = true; }
  });

  // printing a report shows every folded section
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });
})();
