// perfops dashboard charts: uPlot (vendored, no CDN).
// .chart[data-series]: /api/services/<s>/series, traffic, p95 and errors of a service or endpoint;
// .chart[data-band]: /api/findings/<id>/series, a finding's series with its norm band (between the
// norm and the alarm line) and markers (finding start/end, deploys, an upstream cause's deploy).
// Series differ by dash as well as colour, so they read without colour. Times read as ISO dates
// in the domain's timezone (data-tz), whatever the browser's locale and zone.
(function () {
  function isoFormatter(tz) {
    var f;
    try {
      f = new Intl.DateTimeFormat("sv-SE", { timeZone: tz || "UTC", year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    } catch (e) {
      f = new Intl.DateTimeFormat("sv-SE", { timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    }
    return function (seconds) { return seconds == null ? "" : f.format(new Date(seconds * 1000)); };
  }

  function timeAxis(iso) {
    // two lines per tick: the date above the time, so labels stay short on a phone
    return { values: function (u, splits) {
      return splits.map(function (s) { var t = iso(s); return t.slice(5, 10) + "\n" + t.slice(11); });
    }, size: 48 };
  }

  function width(el) { return Math.max(280, el.clientWidth || 900); }

  function drawService(el, data, iso) {
    var opts = {
      title: el.dataset.title || "", width: width(el), height: 240,
      scales: { x: { time: true }, ms: {}, req: {}, err: {} },
      series: [
        { value: function (u, v) { return iso(v); } },
        { label: "requests / h", scale: "req", stroke: "#1f3b73", width: 1.5 },
        { label: "p95 ms", scale: "ms", stroke: "#8a3b12", width: 1.5, dash: [6, 4] },
        { label: "server errors / h (own scale)", scale: "err", stroke: "#2d6a2d", width: 1, dash: [2, 3] }
      ],
      axes: [timeAxis(iso), { scale: "req", label: "requests", size: 56 },
             { scale: "ms", side: 1, label: "ms", grid: { show: false }, size: 56 }]
    };
    return new uPlot(opts, [data.t, data.requests, data.latency_p95_ms, data.errors], el);
  }

  // vertical lines with their label written inside the plot, flipped to the left of the line
  // near the right edge and stacked in rows so that neighbours do not overlap
  function markersPlugin(markers) {
    return { hooks: { draw: [function (u) {
      var ctx = u.ctx, top = u.bbox.top, bottom = top + u.bbox.height, right = u.bbox.left + u.bbox.width;
      var px = window.devicePixelRatio || 1, rowH = 14 * px, ends = [];
      ctx.save();
      ctx.font = (11 * px) + "px sans-serif";
      markers.forEach(function (m) {
        var x = Math.round(u.valToPos(m.t, "x", true));
        if (x < u.bbox.left || x > right) return;
        ctx.strokeStyle = "#6b3fa0"; ctx.setLineDash([4 * px, 3 * px]); ctx.lineWidth = px;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
        var w = ctx.measureText(m.label).width, left = x + 3 * px > right - w ? x - 3 * px - w : x + 3 * px;
        left = Math.max(px, Math.min(left, u.ctx.canvas.width - w - px));  // never cut by the canvas edge
        var row = 0;
        while (ends[row] !== undefined && ends[row] > left) row++;
        ends[row] = left + w + 6 * px;
        ctx.fillStyle = "rgba(255,255,255,0.85)"; ctx.fillRect(left - px, top + row * rowH + px, w + 2 * px, rowH - px);
        ctx.fillStyle = "#3d2466"; ctx.textBaseline = "top"; ctx.textAlign = "left";
        ctx.fillText(m.label, left, top + row * rowH + 2 * px);
      });
      ctx.restore();
    }] } };
  }

  function drawBand(el, data, iso) {
    var opts = {
      title: el.dataset.title || data.title || "", width: width(el), height: 260,
      scales: { x: { time: true } },
      series: [
        { value: function (u, v) { return iso(v); } },
        { label: "observed", stroke: "#1f3b73", width: 1.5 },
        { label: "norm", stroke: "#2d6a2d", width: 1, dash: [6, 4] },
        { label: "alarm line", stroke: "#8a3b12", width: 1, dash: [2, 3] }
      ],
      bands: [{ series: [3, 2], fill: "rgba(45,106,45,0.12)" }],
      axes: [timeAxis(iso), { label: data.unit, size: 56 }],
      plugins: [markersPlugin(data.markers || [])]
    };
    return new uPlot(opts, [data.t, data.observed, data.norm, data.upper], el);
  }

  document.querySelectorAll(".chart[data-series], .chart[data-band]").forEach(function (el) {
    var iso = isoFormatter(el.dataset.tz);
    var band = el.hasAttribute("data-band");
    fetch(band ? el.dataset.band : el.dataset.series).then(function (r) { return r.json(); }).then(function (d) {
      if (d && d.t) {
        var plot = band ? drawBand(el, d, iso) : drawService(el, d, iso);
        el.setAttribute("data-ready", "1");
        window.addEventListener("resize", function () { plot.setSize({ width: width(el), height: plot.height }); });
      }
    }).catch(function () { el.textContent = "Chart data could not be loaded."; el.classList.add("chart-failed"); });
  });
})();
