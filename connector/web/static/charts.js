/* Hand-written SVG charts: horizontal stacked bars with a shared legend. */
(function () {
  "use strict";
  var svg = PC.svg;

  /**
   * rows: [{label, parts: [{key, seconds}]}]; colours: {key: colour}; names: {key: label}.
   * Returns an <svg> with one bar per row, segments in the order of `order`.
   */
  function stackedBars(rows, order, colours, names) {
    var barH = 20, gap = 8, left = 130, right = 60, width = 560;  // left: room for an 18-character name
    var height = Math.max(1, rows.length) * (barH + gap) + gap;
    var max = Math.max.apply(null, rows.map(function (r) {
      return r.parts.reduce(function (sum, p) { return sum + p.seconds; }, 0);
    }).concat([1]));
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img",
                             "aria-label": "Time per state, stacked bars" });
    if (!rows.length) {
      chart.setAttribute("viewBox", "0 0 " + width + " 40");
      chart.appendChild(svg("text", { x: 8, y: 24, text: "No time recorded in this range." }));
      return chart;
    }
    rows.forEach(function (row, i) {
      var y = gap + i * (barH + gap);
      chart.appendChild(svg("text", { x: left - 8, y: y + barH / 2 + 4, "text-anchor": "end",
                                      text: row.label.length > 18 ? row.label.slice(0, 17) + "…" : row.label }));
      var x = left, total = 0;
      order.forEach(function (key) {
        var part = row.parts.filter(function (p) { return p.key === key; })[0];
        if (!part || part.seconds <= 0) return;
        var w = (width - left - right) * part.seconds / max;
        var rect = svg("rect", { x: x.toFixed(1), y: y, width: Math.max(w, 0.5).toFixed(1), height: barH,
                                 fill: colours[key] || "#9aa5b1" });
        rect.appendChild(svg("title", { text: row.label + " · " + (names[key] || key) + ": " + PC.shortDuration(part.seconds) }));
        chart.appendChild(rect);
        x += w; total += part.seconds;
      });
      chart.appendChild(svg("text", { x: x + 6, y: y + barH / 2 + 4, text: PC.shortDuration(total) }));
    });
    return chart;
  }

  /** hours: [{label, seconds: {key: seconds}}] -> vertical stacked bars, one per hour (3600 s = full height). */
  function hourlyMix(hours, order, colours, names) {
    var width = 560, height = 220, left = 56, bottom = 20, top = 8;  // left: room for "10h 30m"
    var plotH = height - bottom - top, slot = (width - left) / Math.max(hours.length, 1), barW = slot * 0.78;
    var max = Math.max(3600, Math.max.apply(null, hours.map(function (h) {
      return Object.keys(h.seconds).reduce(function (sum, k) { return sum + h.seconds[k]; }, 0);
    }).concat([0])));
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img",
                             "aria-label": "State mix per hour of the day, stacked" });
    [0, 0.5, 1].forEach(function (f) {
      var y = top + plotH * (1 - f);
      chart.appendChild(svg("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#e4e7eb" }));
      chart.appendChild(svg("text", { x: left - 4, y: y + 4, "text-anchor": "end",
                                      text: PC.shortDuration(max * f).replace(" 00m", "").replace(" 00s", "") }));
    });
    hours.forEach(function (h, i) {
      var x = left + i * slot + (slot - barW) / 2, y = top + plotH;
      order.forEach(function (key) {
        var secs = h.seconds[key];
        if (!secs) return;
        var bh = plotH * secs / max;
        y -= bh;
        var rect = svg("rect", { x: x.toFixed(1), y: y.toFixed(1), width: barW.toFixed(1), height: Math.max(bh, 0.5).toFixed(1),
                                 fill: colours[key] || "#9aa5b1" });
        rect.appendChild(svg("title", { text: h.label + " · " + (names[key] || key) + ": " + PC.shortDuration(secs) }));
        chart.appendChild(rect);
      });
      if (i % 3 === 0) chart.appendChild(svg("text", { x: x + barW / 2, y: height - 6, "text-anchor": "middle", text: h.label.slice(0, 2) }));
    });
    return chart;
  }

  function legend(container, order, colours, names) {
    container.textContent = "";
    order.forEach(function (key) {
      container.appendChild(PC.el("span", {}, [PC.swatch(colours[key]), names[key] || key]));
    });
  }

  window.PCCharts = { stackedBars: stackedBars, hourlyMix: hourlyMix, legend: legend };
})();
