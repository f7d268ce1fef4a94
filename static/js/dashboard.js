/* subsync dashboard: the viewer's time zone, charts from JSON the server rendered, htmx glue.
   No inline scripts: pages put chart data in <script type="application/json"> elements. */
(function () {
  "use strict";

  // Tell the server the browser's time zone once; pages then show dates in it.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var current = (document.cookie.match(/(?:^|; )tz=([^;]*)/) || [])[1];
    if (zone && decodeURIComponent(current || "") !== zone) {
      // From the next page on; the footer of this one says which zone it used.
      document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* no Intl: UTC it is */ }

  var PALETTE = {
    new: "#1a7f4b", expansion: "#4caf7d", reactivation: "#0f6ab4",
    contraction: "#e08a1e", churn: "#c0392b", net: "#1d2430",
    mrr: "#1a6fd1", logo: "#c0392b", gross: "#e08a1e", netchurn: "#6b4fbb"
  };
  var DASHES = { net: [6, 3], gross: [4, 4], netchurn: [2, 3] };

  function money(value, currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: currency,
        maximumFractionDigits: 0 }).format(value);
    } catch (e) { return Math.round(value).toLocaleString() + " " + currency; }
  }

  function axisLabel(spec) {
    return spec.percent ? function (v) { return v + " %"; }
      : function (v) { return money(v, spec.currency); };
  }

  function render(canvas) {
    if (typeof Chart === "undefined") { return; }
    var source = document.getElementById(canvas.dataset.source);
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    var stacked = spec.kind === "movements";
    var datasets = spec.datasets.map(function (d) {
      var colour = PALETTE[d.key] || "#555";
      var isLine = spec.kind === "line" || d.type === "line";
      return {
        type: isLine ? "line" : "bar", label: d.label, data: d.data,
        backgroundColor: isLine ? colour : colour + "cc", borderColor: colour,
        borderWidth: isLine ? 2 : 1, borderDash: DASHES[d.key] || [],
        pointStyle: d.point || "circle", pointRadius: isLine ? 3 : 0, tension: 0.2,
        stack: isLine ? undefined : "movements", order: isLine ? 0 : 1, fill: false
      };
    });
    var tick = axisLabel(spec);
    new Chart(canvas, {
      type: spec.kind === "line" ? "line" : "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { usePointStyle: true } },
          tooltip: { callbacks: { label: function (ctx) {
            return ctx.dataset.label + ": " + tick(ctx.parsed.y);
          } } }
        },
        scales: {
          x: { stacked: stacked, title: { display: true, text: spec.xLabel || "Month" } },
          y: { stacked: stacked, title: { display: true, text: spec.yLabel },
               ticks: { callback: tick } }
        }
      }
    });
    canvas.dataset.rendered = "true";
    canvas.dataset.points = String(spec.labels.length);
  }

  function renderAll(root) {
    (root || document).querySelectorAll("canvas[data-source]").forEach(function (canvas) {
      if (canvas.dataset.rendered !== "true") { render(canvas); }
    });
  }

  // Buttons that ask before they act (data-confirm="…").
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.dataset && form.dataset.confirm;
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);

  // Filter forms submit themselves when a select changes (the URL keeps the filter).
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.dataset.autosubmit === "true" && event.target.tagName === "SELECT") {
      form.requestSubmit ? form.requestSubmit() : form.submit();
    }
  });

  // Filters left blank stay out of the URL, so a shared link shows only what was chosen.
  document.addEventListener("htmx:configRequest", function (event) {
    var params = event.detail.parameters;
    Object.keys(params).forEach(function (key) {
      if (params[key] === "") { delete params[key]; }
    });
  });

  document.addEventListener("DOMContentLoaded", function () { renderAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { renderAll(event.target); });
})();
