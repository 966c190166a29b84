/* forgeml charts: draws every chart figure (class fm-chart) from the JSON it holds, with uPlot.
   The figure's data block is written by forgeml.report.charts; nothing is fetched. */
(function () {
  "use strict";
  var PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#4b5563"];
  var MUTED = "#6b7280";
  var HEIGHT = 280;
  var WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000, 1000000];

  function number(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
    return String(+v.toPrecision(4));
  }

  function percent(v) {
    return v === null || v === undefined || !isFinite(v) ? "–" : (100 * v).toFixed(1) + "%";
  }

  function short(text, n) {
    return text.length <= n ? text : text.slice(0, n - 1) + "…";
  }

  // One x array for all series: the shared one when every series has the same x values
  // (duplicates kept: a curve may go straight up), else their sorted union. A point a series lacks
  // is left undefined (the line goes on across it); a null value is a gap in the line.
  function join(series) {
    var first = series.length ? series[0].x : [];
    var same = series.every(function (s) {
      return s.x.length === first.length && s.x.every(function (x, i) { return x === first[i]; });
    });
    if (same) {
      return [first.slice()].concat(series.map(function (s) { return s.y.slice(); }));
    }
    var seen = new Set();
    series.forEach(function (s) { s.x.forEach(function (x) { if (x !== null) seen.add(x); }); });
    var xs = Array.from(seen).sort(function (a, b) { return a - b; });
    var at = new Map(xs.map(function (x, i) { return [x, i]; }));
    return [xs].concat(series.map(function (s) {
      var ys = new Array(xs.length);
      s.x.forEach(function (x, i) { if (x !== null) ys[at.get(x)] = s.y[i]; });
      return ys;
    }));
  }

  // Reference lines (y = x, a baseline) drawn under the series, named on the chart.
  function referencesHook(refs) {
    return function (u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = MUTED;
      ctx.fillStyle = MUTED;
      ctx.lineWidth = 1.5 * uPlot.pxRatio;
      ctx.setLineDash([5 * uPlot.pxRatio, 4 * uPlot.pxRatio]);
      ctx.font = 11 * uPlot.pxRatio + "px sans-serif";
      refs.forEach(function (r) {
        var x0 = u.valToPos(r.x[0], "x", true), x1 = u.valToPos(r.x[1], "x", true);
        var y0 = u.valToPos(r.y[0], "y", true), y1 = u.valToPos(r.y[1], "y", true);
        ctx.beginPath();
        ctx.moveTo(x0, y0);
        ctx.lineTo(x1, y1);
        ctx.stroke();
        ctx.textAlign = "right";
        ctx.fillText(r.name, Math.min(x1, u.bbox.left + u.bbox.width) - 4, y1 - 6);
      });
      ctx.restore();
    };
  }

  function axisValues(spec) {
    if (spec.x.names) {
      return function (u, splits) {
        return splits.map(function (i) {
          return Number.isInteger(i) && spec.x.names[i] !== undefined ? short(spec.x.names[i], 14) : "";
        });
      };
    }
    if (spec.x.time) {
      return function (u, splits) {
        var step = splits.length > 1 ? splits[1] - splits[0] : 86400;
        var format = step < 86400 ? "{MM}-{DD} {HH}:{mm}" : "{YYYY}-{MM}-{DD}";
        return splits.map(function (ts) { return when(ts, format); });
      };
    }
    return function (u, splits) { return splits.map(number); };
  }

  // A time (seconds) in UTC, as the pages state times.
  function when(ts, format) {
    return uPlot.fmtDate(format)(uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"));
  }

  function base(spec, width) {
    var xScale = { time: !!spec.x.time };
    if (spec.x.range) xScale.range = function () { return spec.x.range; };
    if (spec.x.names) xScale.range = function () { return [-0.5, spec.x.names.length - 0.5]; };
    var yScale = {};
    if (spec.y.range) yScale.range = function () { return spec.y.range; };
    var yValues = spec.y.percent
      ? function (u, splits) { return splits.map(percent); }
      : function (u, splits) { return splits.map(number); };
    var xAxis = { label: spec.x.label, values: axisValues(spec), labelSize: 20 };
    if (spec.x.names) {
      xAxis.splits = function () { return spec.x.names.map(function (_, i) { return i; }); };
      xAxis.rotate = spec.x.names.length > 6 ? -40 : 0;
      xAxis.size = spec.x.names.length > 6 ? 80 : 40;
      xAxis.gap = 4;
    } else if (spec.x.integer) {
      xAxis.incrs = WHOLE;
    } else if (spec.x.time) {
      xAxis.space = 100;  // room for "03-01 18:00" between ticks
    }
    var padding = spec.x.time ? [12, 36, 0, 0] : undefined;  // the last time label whole
    var yAxis = { label: spec.y.label, values: yValues, size: 56, labelSize: 20 };
    if (spec.y.integer) yAxis.incrs = WHOLE;
    return {
      width: width,
      height: HEIGHT,
      padding: padding,
      scales: { x: xScale, y: yScale },
      axes: [xAxis, yAxis],
      legend: { live: true },
      cursor: { points: { size: 7 } },
      hooks: {},
      // Ticks on UTC boundaries, as the pages state times, whatever the reader's zone.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
    };
  }

  function xSeries(spec) {
    var s = { label: spec.x.label };
    if (spec.x.names) s.value = function (u, i) { return i === null ? "–" : spec.x.names[i]; };
    else if (spec.x.time) s.value = function (u, v) { return v === null ? "–" : when(v, "{YYYY}-{MM}-{DD} {HH}:{mm}"); };
    else s.value = function (u, v) { return number(v); };
    return s;
  }

  function line(spec, width) {
    var opts = base(spec, width);
    opts.series = [xSeries(spec)].concat(spec.series.map(function (s, n) {
      var colour = PALETTE[n % PALETTE.length];
      var one = {
        label: s.name,
        stroke: colour,
        width: 2,
        dash: s.dashed ? [6, 4] : undefined,
        points: { show: s.markers || s.x.length === 1, size: 6, fill: colour },
        value: function (u, v, si, i) {
          var note = i !== null && s.notes ? s.notes[i] : "";
          return (spec.y.percent ? percent(v) : number(v)) + (note ? " (" + note + ")" : "");
        },
      };
      if (s.step) one.paths = uPlot.paths.stepped({ align: 1 });
      return one;
    }));
    if (spec.references.length) opts.hooks.drawClear = [referencesHook(spec.references)];
    return [opts, join(spec.series)];
  }

  function scatter(spec, width) {
    var opts = base(spec, width);
    var s = spec.series[0];
    var order = s.x.map(function (_, i) { return i; }).sort(function (a, b) { return s.x[a] - s.x[b]; });
    var labels = s.labels ? order.map(function (i) { return s.labels[i]; }) : null;
    var xs = order.map(function (i) { return s.x[i]; });
    var data = [xs, order.map(function (i) { return s.y[i]; })];
    var size = xs.length < 200 ? 7 : 4;
    opts.series = [xSeries(spec), {
      label: s.name,
      stroke: PALETTE[0],
      fill: "rgba(37,99,235,0.45)",
      paths: function () { return null; },
      points: { show: true, size: size, width: 0, fill: "rgba(37,99,235,0.45)" },
      value: function (u, v, si, i) {
        return (labels && i !== null ? labels[i] + ": " : "") + number(v);
      },
    }];
    if (spec.highlight !== null) {
      var h = spec.highlight;
      data.push(xs.map(function (x, i) { return order[i] === h ? s.y[h] : null; }));
      opts.series.push({
        label: "best",
        stroke: PALETTE[1],
        paths: function () { return null; },
        points: { show: true, size: 11, width: 2, fill: PALETTE[1] },
      });
    }
    if (spec.references.length) opts.hooks.drawClear = [referencesHook(spec.references)];
    return [opts, data];
  }

  function bars(spec, width) {
    var opts = base(spec, width);
    var groups = spec.series.length;
    var size = groups > 1 ? 0.8 / groups : 0.7;
    // Bars grow from zero, with room above the tallest.
    opts.scales.y.range = function (u, low, high) {
      return [Math.min(0, low), high > 0 ? high * 1.08 : 1];
    };
    opts.series = [xSeries(spec)].concat(spec.series.map(function (s, n) {
      var colour = s.colour || PALETTE[n % PALETTE.length];
      return {
        label: s.name,
        stroke: colour,
        fill: colour,
        width: 0,
        points: { show: false },
        paths: uPlot.paths.bars({
          size: [size, 60],
          align: groups > 1 ? (n === 0 ? -1 : 1) : 0,
        }),
        value: function (u, v) { return spec.y.percent ? percent(v) : number(v); },
      };
    }));
    var xs = spec.x.names.map(function (_, i) { return i; });
    return [opts, [xs].concat(spec.series.map(function (s) { return s.y; }))];
  }

  // Parallel coordinates: one line per row across one vertical axis per column, each
  // scaled to its column's range; hovering a line names its row and its values.
  function parallel(spec, width, figure) {
    var opts = base(spec, width);
    var axes = spec.x.names;
    var ranges = axes.map(function (_, i) {
      var col = spec.series.map(function (r) { return r.y[i]; }).filter(function (v) { return v !== null; });
      var lo = col.length ? Math.min.apply(null, col) : 0, hi = col.length ? Math.max.apply(null, col) : 1;
      return [lo, hi > lo ? hi : lo + 1];
    });
    opts.scales.y.range = function () { return [-0.04, 1.04]; };
    opts.axes[1] = { show: false };
    opts.legend = { show: false };
    opts.cursor = { focus: { prox: 12 }, points: { show: false }, y: false };
    opts.focus = { alpha: 0.15 };
    opts.series = [xSeries(spec)].concat(spec.series.map(function (r, n) {
      return { label: r.name, stroke: PALETTE[n % PALETTE.length], width: 1.5, points: { show: false } };
    }));
    var hover = document.createElement("div");
    hover.className = "fm-hover";
    figure.appendChild(hover);
    opts.hooks.setSeries = [function (u, si) {
      var row = si === null ? null : spec.series[si - 1];
      hover.textContent = row ? row.name + ": " + axes.map(function (a, i) {
        return a + " = " + number(row.y[i]);
      }).join(", ") : "";
    }];
    opts.hooks.draw = [function (u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = "#374151";
      ctx.fillStyle = "#111827";
      ctx.font = 11 * uPlot.pxRatio + "px sans-serif";
      ctx.textAlign = "left";  // beside the axis line, not across it
      axes.forEach(function (_, i) {
        var x = u.valToPos(i, "x", true);
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
        var gap = 4 * uPlot.pxRatio;
        ctx.fillText(number(ranges[i][1]), x + gap, u.bbox.top - gap);
        ctx.fillText(number(ranges[i][0]), x + gap, u.bbox.top + u.bbox.height + 3 * gap);
      });
      ctx.restore();
    }];
    opts.padding = [18, 24, 8, 24];
    opts.axes[0].gap = 18;  // the names below each axis' lowest value
    var xs = axes.map(function (_, i) { return i; });
    var data = [xs].concat(spec.series.map(function (r) {
      return r.y.map(function (v, i) {
        return v === null ? null : (v - ranges[i][0]) / (ranges[i][1] - ranges[i][0]);
      });
    }));
    return [opts, data];
  }

  var KINDS = { line: line, scatter: scatter, bars: bars, parallel: parallel };

  function draw(figure) {
    if (figure.dataset.drawn) return;
    var block = figure.querySelector("script.fm-data");
    var spec = JSON.parse(block.textContent);
    var holder = figure.querySelector(".fm-plot");
    var width = Math.max(280, Math.floor((holder.clientWidth || figure.clientWidth || 480)));
    var made = KINDS[spec.kind](spec, width, figure);
    new uPlot(made[0], made[1], holder);
    figure.dataset.drawn = String(spec.series.length);
  }

  function drawAll() {
    document.querySelectorAll("figure.fm-chart").forEach(function (figure) {
      try {
        draw(figure);
      } catch (error) {
        figure.dataset.drawn = "error";
        figure.querySelector(".fm-plot").textContent = "This chart could not be drawn: " + error;
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
  // Pages that swap in new rows (htmx) may bring new charts.
  document.addEventListener("htmx:afterSettle", drawAll);
})();
