// perfops dashboard charts: uPlot (vendored, no CDN). Each .chart[data-series] fetches
// /api/services/<s>/series and draws traffic, p95 and errors; series differ by dash and
// marker as well as colour, so they read without colour.
(function () {
  function draw(el, data) {
    var width = Math.max(320, el.clientWidth || 900);
    var opts = {
      title: el.dataset.title || "", width: width, height: 240,
      scales: { x: { time: true }, ms: {}, req: {}, err: {} },
      series: [
        {},
        { label: "requests / h", scale: "req", stroke: "#1f3b73", width: 1.5 },
        { label: "p95 ms", scale: "ms", stroke: "#8a3b12", width: 1.5, dash: [6, 4] },
        { label: "server errors / h (own scale)", scale: "err", stroke: "#2d6a2d", width: 1, dash: [2, 3] }
      ],
      axes: [{}, { scale: "req", label: "requests" }, { scale: "ms", side: 1, label: "ms", grid: { show: false } }]
    };
    new uPlot(opts, [data.t, data.requests, data.latency_p95_ms, data.errors], el);
  }
  document.querySelectorAll(".chart[data-series]").forEach(function (el) {
    fetch(el.dataset.series).then(function (r) { return r.json(); }).then(function (d) {
      if (d && d.t) { draw(el, d); el.setAttribute("data-ready", "1"); }
    }).catch(function () { el.textContent = "Chart data could not be loaded."; el.classList.add("chart-failed"); });
  });
})();
