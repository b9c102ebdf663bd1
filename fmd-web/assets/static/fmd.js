// fmd dashboard: relative times, sortable and filterable tables, the level select.
(function () {
  "use strict";
  var base = document.body.getAttribute("data-base") || "";
  var timezone = document.body.getAttribute("data-timezone") || "UTC";

  // An RFC 3339 time as the pages show times: 2026-11-22 19:41:37 in the dashboard's timezone.
  function localTime(iso) {
    try {
      return new Date(iso).toLocaleString("sv-SE", { timeZone: timezone });
    } catch (e) {
      return iso;
    }
  }

  function relative(date) {
    var s = Math.round((Date.now() - date.getTime()) / 1000);
    if (isNaN(s)) return "";
    var future = s < 0; s = Math.abs(s);
    var units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    if (s < 5) return "just now";
    for (var i = 0; i < units.length; i++) {
      var n = Math.floor(s / units[i][1]);
      if (n >= 1) {
        var text = n + " " + units[i][0] + (n === 1 ? "" : "s");
        return future ? "in " + text : text + " ago";
      }
    }
    return "just now";
  }

  function refreshTimes() {
    var times = document.querySelectorAll("table#overview time[datetime], table#exceptions time[datetime], .details time[datetime]");
    for (var i = 0; i < times.length; i++) {
      times[i].textContent = relative(new Date(times[i].getAttribute("datetime")));
    }
  }

  function toast(message, isError) {
    var el = document.getElementById("toast");
    if (!el) return;
    el.textContent = message;
    el.className = "show" + (isError ? " error" : "");
    clearTimeout(el._timer);
    el._timer = setTimeout(function () { el.className = ""; }, 3500);
  }

  function cookie(name) {
    var parts = document.cookie.split(";");
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].trim().split("=");
      if (kv[0] === name) return decodeURIComponent(kv.slice(1).join("="));
    }
    return "";
  }

  function sortable(table) {
    var heads = table.querySelectorAll("thead tr:last-child th[data-sort]");
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener("click", function () {
        var numeric = th.getAttribute("data-sort") === "num";
        var asc = !th.classList.contains("asc");
        Array.prototype.forEach.call(heads, function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(asc ? "asc" : "desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute("data-value"), y = b.cells[col].getAttribute("data-value");
          var r = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
          return asc ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function filterable(input, table) {
    var none = document.getElementById("no-match");
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase(), shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var hit = row.getAttribute("data-name").toLowerCase().indexOf(q) !== -1;
        row.hidden = !hit;
        if (hit) shown++;
      });
      if (none) none.hidden = shown !== 0;
    });
  }

  // Stores an endpoint's level; the select shows it once stored, its old value otherwise.
  function putLevel(sel, level) {
    var previous = sel.getAttribute("data-current");
    sel.disabled = true;
    return fetch(base + "/api/endpoints/" + sel.getAttribute("data-endpoint") + "/level", {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": cookie("fmd_csrf") },
      body: JSON.stringify({ level: level })
    }).then(function (res) {
      return res.json().then(function (body) { return { ok: res.ok, body: body }; });
    }).then(function (r) {
      if (!r.ok) throw new Error(r.body.error || "the change was refused");
      sel.value = String(level);
      sel.setAttribute("data-current", String(level));
      sel.parentNode.setAttribute("data-value", String(level));
    }).catch(function (e) {
      sel.value = previous;
      throw e;
    }).then(function () { sel.disabled = false; }, function (e) { sel.disabled = false; throw e; });
  }

  function levelSelects() {
    var selects = document.querySelectorAll("select.level");
    Array.prototype.forEach.call(selects, function (sel) {
      sel.setAttribute("data-current", sel.value);
      sel.addEventListener("change", function () {
        var level = parseInt(sel.value, 10);
        putLevel(sel, level).then(function () {
          toast("Level of " + sel.getAttribute("data-name") + " set to " + level + "; it applies from the next request.");
        }, function (e) {
          toast("Could not change the level: " + e.message, true);
        });
      });
    });
  }

  // The overview's checkboxes: one level for every endpoint picked.
  function bulkLevels() {
    var bar = document.getElementById("bulk-levels");
    if (!bar) return;
    var picks = document.querySelectorAll("#overview input.pick");
    var count = bar.querySelector(".bulk-count");
    function picked() { return Array.prototype.filter.call(picks, function (p) { return p.checked; }); }
    function update() {
      var n = picked().length;
      bar.hidden = n === 0;
      count.textContent = n + (n === 1 ? " endpoint" : " endpoints") + " selected";
    }
    Array.prototype.forEach.call(picks, function (p) { p.addEventListener("change", update); });
    var all = document.getElementById("pick-all");
    // In a sortable column's heading: a click here picks, it does not sort.
    if (all) all.addEventListener("click", function (e) { e.stopPropagation(); });
    if (all) all.addEventListener("change", function () {
      Array.prototype.forEach.call(picks, function (p) { if (!p.closest("tr").hidden) p.checked = all.checked; });
      update();
    });
    bar.querySelector("button").addEventListener("click", function () {
      var level = parseInt(bar.querySelector("select").value, 10);
      var chosen = picked();
      // One at a time: each change is its own request, and a refusal stops the rest.
      chosen.reduce(function (done, p) {
        return done.then(function () {
          return putLevel(document.querySelector("select.level[data-endpoint=\"" + p.getAttribute("data-endpoint") + "\"]"), level);
        });
      }, Promise.resolve()).then(function () {
        toast("Level of " + chosen.length + (chosen.length === 1 ? " endpoint" : " endpoints") + " set to " + level + "; it applies from the next request.");
        chosen.forEach(function (p) { p.checked = false; });
        if (all) all.checked = false;
        update();
      }, function (e) {
        toast("Could not change every level: " + e.message, true);
      });
    });
  }

  // Charts are drawn with the vendored ECharts, only on pages that load it.
  function chart(el, option) {
    if (!el || typeof echarts === "undefined") return null;
    var c = echarts.init(el);
    // A browser driven by automation (the end-to-end tests) gets the final picture at once.
    if (navigator.webdriver) option.animation = false;
    // Tooltips are drawn on the canvas, not as HTML: recorded text (names, group-by values,
    // versions) can never become markup, and the page's CSP, which allows no inline styles,
    // has nothing to refuse.
    if (option.tooltip) {
      option.tooltip.renderMode = "richText";
      option.tooltip.confine = true;
    }
    c.setOption(option);
    window.addEventListener("resize", function () { c.resize(); });
    el.fmdChart = c;
    return c;
  }

  function cpuChart(el) {
    if (!el) return;
    var outliers = JSON.parse(el.getAttribute("data-cpu") || "[]");
    var cores = 0;
    outliers.forEach(function (o) { cores = Math.max(cores, o.length); });
    var perCore = [];
    for (var i = 0; i < cores; i++) {
      perCore.push(outliers.map(function (o) { return o[i]; }).filter(function (v) { return typeof v === "number"; }));
    }
    chart(el, {
      dataset: [
        { source: perCore },
        { transform: { type: "boxplot", config: { itemNameFormatter: function (p) { return "CPU " + p.value; } } } },
        { fromDatasetIndex: 1, fromTransformResult: 1 }
      ],
      tooltip: { trigger: "item" },
      grid: { left: 50, right: 20, top: 20, bottom: 30 },
      xAxis: { type: "category", name: "core" },
      yAxis: { type: "value", min: 0, max: 100, name: "% CPU" },
      series: [
        { name: "CPU use", type: "boxplot", datasetIndex: 1, itemStyle: { color: "#e3eeff", borderColor: "#0061ff" } },
        { name: "beyond the whiskers", type: "scatter", datasetIndex: 2 }
      ]
    });
  }

  // The grouped profiler's call paths as a tree of {name, value, total, path, children}.
  // Concurrent children (join!) can add up to more than their parent's time: they are scaled
  // into the parent's room, and `total` keeps the real figure for the tooltips.
  function pathTree(rows) {
    var nodes = {}, roots = [];
    rows.forEach(function (r) {
      var key = r.path.join("\u0000");
      var node = { name: r.path[r.path.length - 1], value: r.total_ms, total: r.total_ms, path: r.path.join(" › "), children: [] };
      nodes[key] = node;
      var parent = nodes[r.path.slice(0, -1).join("\u0000")];
      if (r.path.length > 1 && parent) parent.children.push(node); else roots.push(node);
    });
    function fit(node, room) {
      node.value = Math.min(node.value, room);
      var sum = node.children.reduce(function (a, c) { return a + c.value; }, 0);
      var scale = sum > node.value && sum > 0 ? node.value / sum : 1;
      node.children.forEach(function (c) { fit(c, c.value * scale); });
    }
    roots.forEach(function (r) { fit(r, r.value); });
    return roots;
  }

  function sunburst(el, roots) {
    function strip(node) {
      var out = { name: node.name, value: node.value, total: node.total };
      if (node.children.length) out.children = node.children.map(strip);
      return out;
    }
    chart(el, {
      tooltip: { formatter: function (p) { return p.name + ": " + (p.data.total || 0).toFixed(3) + " ms in all"; } },
      series: [{ type: "sunburst", data: roots.map(strip), radius: [0, "95%"], sort: null,
        label: { rotate: "radial", minAngle: 8 }, emphasis: { focus: "ancestor" } }]
    });
  }

  // A flame graph (an icicle, callers on top): each call path a bar as wide as its time, its
  // callees below it. Click a bar to widen it to the whole chart, click it again to go back:
  // small spans become readable however many there are.
  var FLAME_COLORS = ["#f4a259", "#f6bd60", "#e76f51", "#f28482", "#f5cac3", "#e9c46a", "#f7b267", "#f79d65"];
  function flame(el, roots) {
    var items = [], deepest = 0, x = 0;
    var total = roots.reduce(function (n, r) { return n + r.value; }, 0) || 1;
    // Every call gets at least half a percent of the width, taken from its widest sibling: a
    // short call beside a long one is still there to see, hover and click.
    var least = total * 0.005;
    function place(node, start, width, depth) {
      deepest = Math.max(deepest, depth);
      var h = 0;
      for (var i = 0; i < node.name.length; i++) h = (h * 31 + node.name.charCodeAt(i)) | 0;
      items.push({ name: node.name, path: node.path, value: [start, start + width, depth, node.total], color: FLAME_COLORS[Math.abs(h) % FLAME_COLORS.length] });
      var kids = node.children;
      if (!kids.length) return;
      var scale = node.value > 0 ? width / node.value : 0;
      var widths = kids.map(function (c) { return Math.max(c.value * scale, least); });
      var used = kids.reduce(function (n, c) { return n + c.value * scale; }, 0);
      var over = widths.reduce(function (n, w) { return n + w; }, 0) - Math.max(used, Math.min(width, widths.length * least));
      if (over > 0) {
        var widest = widths.indexOf(Math.max.apply(null, widths));
        widths[widest] = Math.max(least, widths[widest] - over);
      }
      var at = start;
      kids.forEach(function (c, i) { place(c, at, widths[i], depth + 1); at += widths[i]; });
    }
    roots.forEach(function (r) { place(r, x, r.value, 0); x += r.value; });
    el.style.height = ((deepest + 1) * 26 + 10) + "px";
    var c = chart(el, {
      tooltip: { formatter: function (p) { return p.data.path + "\n" + ms(p.value[3]) + " ms in all, " + (100 * p.value[3] / total).toFixed(1) + " % of the time"; } },
      grid: { left: 4, right: 4, top: 4, bottom: 4 },
      xAxis: { type: "value", min: 0, max: total, show: false },
      yAxis: { type: "value", min: 0, max: deepest + 1, inverse: true, show: false },
      series: [{ type: "custom", clip: true, data: items, encode: { x: [0, 1], y: 2 },
        renderItem: function (params, api) {
          var a = api.coord([api.value(0), api.value(2)]), b = api.coord([api.value(1), api.value(2) + 1]);
          var width = Math.max(b[0] - a[0] - 1, 1), item = items[params.dataIndex];
          return { type: "rect", shape: { x: a[0], y: a[1] + 1, width: width, height: b[1] - a[1] - 2 },
            style: { fill: item.color },
            textContent: { style: { text: width > 24 ? item.name : "", fill: "#1d2330", fontSize: 12, width: width - 6, overflow: "truncate" } },
            textConfig: { position: "insideLeft" } };
        } }]
    });
    if (!c) return;
    var zoomed = null;
    c.on("click", function (p) {
      var same = zoomed === p.dataIndex;
      zoomed = same ? null : p.dataIndex;
      c.setOption({ xAxis: { min: same ? 0 : p.value[0], max: same ? total : p.value[1] } });
    });
  }

  function grouped() {
    var flameEl = document.getElementById("flame"), sunEl = document.getElementById("sunburst");
    if (!flameEl) return;
    var roots = pathTree(JSON.parse(flameEl.getAttribute("data-paths") || "[]"));
    flame(flameEl, roots);
    var buttons = document.querySelectorAll(".profile-views button");
    Array.prototype.forEach.call(buttons, function (b) {
      b.addEventListener("click", function () {
        var show = b.getAttribute("data-view");
        Array.prototype.forEach.call(buttons, function (o) { o.classList.toggle("active", o === b); o.setAttribute("aria-pressed", String(o === b)); });
        flameEl.hidden = show !== "flame";
        sunEl.hidden = show !== "sunburst";
        // Drawn when first shown: a chart made in a hidden element has no size.
        if (show === "sunburst" && !sunEl.fmdChart) sunburst(sunEl, roots);
        var shown = show === "flame" ? flameEl : sunEl;
        if (shown.fmdChart) shown.fmdChart.resize();
      });
    });
  }

  // The chart pages: each [data-chart] element names its API route and how to draw it; the
  // page's ?from&to range is passed on. The element records how many points it drew.
  var STATUS_COLORS = { 2: "#2e7d32", 3: "#1565c0", 4: "#ef6c00", 5: "#c62828" };
  function ms(v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 0.1 ? v.toFixed(2) : v.toFixed(3); }
  function boxTooltip(p) {
    var d = p.data.stats;
    return p.name + "\n" + d.count + " requests\nmax " + ms(d.max_ms) + " ms\nupper whisker " + ms(d.high_ms) +
      " ms\nq3 " + ms(d.q3_ms) + " ms\nmedian " + ms(d.median_ms) + " ms\nq1 " + ms(d.q1_ms) +
      " ms\nlower whisker " + ms(d.low_ms) + " ms\nmin " + ms(d.min_ms) + " ms";
  }
  // Durations spread over orders of magnitude (a fast health check beside a slow report, a
  // long tail): a log axis keeps every box readable.
  function durationAxis(stats) {
    var low = Infinity, high = 0;
    stats.forEach(function (b) { low = Math.min(low, b.low_ms); high = Math.max(high, b.high_ms); });
    var log = low > 0 && high / low > 50;
    return { type: log ? "log" : "value", name: log ? "ms (log scale)" : "ms" };
  }
  // What the category axis of a box plot lists, by the data-key of its element.
  var KEY_NAMES = { versions: "version", users: "user (group_by)", endpoints: "endpoint" };
  // Time axes label days as ISO dates (not the day of the month alone) and hours as 24-hour times.
  var TIME_LABELS = { year: "{yyyy}", month: "{yyyy}-{MM}", day: "{yyyy}-{MM}-{dd}", hour: "{HH}:{mm}", minute: "{HH}:{mm}", second: "{HH}:{mm}:{ss}", millisecond: "{HH}:{mm}:{ss}", none: "{yyyy}-{MM}-{dd} {HH}:{mm}" };
  var DRAW = {
    heatmap: function (d) {
      var hours = [];
      for (var h = 0; h < 24; h++) hours.push((h < 10 ? "0" : "") + h + ":00");
      var quietest = d.cells.reduce(function (m, c) { return Math.min(m, c[2]); }, Infinity);
      return { points: d.cells.length, height: Math.min(900, Math.max(280, 110 + 18 * d.days.length)), option: {
        tooltip: { formatter: function (p) { return d.days[p.value[1]] + " " + hours[p.value[0]] + ": " + p.value[2] + " requests"; } },
        grid: { left: 90, right: 20, top: 24, bottom: 96 },
        xAxis: { type: "category", data: hours, splitArea: { show: true }, name: "hour of the day (" + timezone + ")", nameLocation: "middle", nameGap: 30 },
        yAxis: { type: "category", data: d.days, splitArea: { show: true }, axisLabel: { hideOverlap: true }, name: "day" },
        // From the quietest hour with requests to the busiest: the day's shape shows even on a
        // busy service (hours without requests are left out).
        visualMap: { min: quietest < d.max ? quietest : 0, max: Math.max(1, d.max), calculable: true, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120, text: ["requests", ""], inRange: { color: ["#e3eeff", "#0061ff", "#002a80"] } },
        series: [{ name: "requests", type: "heatmap", data: d.cells, emphasis: { itemStyle: { borderColor: "#333", borderWidth: 1 } } }]
      } };
    },
    daily: function (d) {
      return { points: d.series.reduce(function (n, s) { return n + s.hits.filter(function (h) { return h > 0; }).length; }, 0), option: {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        legend: { type: "scroll", top: 0 },
        grid: { left: 60, right: 20, top: 56, bottom: 30 },
        xAxis: { type: "category", data: d.days, name: "day" },
        yAxis: { type: "value", name: "requests" },
        series: d.series.map(function (s) { return { name: s.name, type: "bar", stack: "all", data: s.hits, itemStyle: { color: s.color } }; })
      } };
    },
    shares: function (d) {
      var names = d.endpoints.map(function (e) { return e.name; });
      return { points: d.endpoints.length, height: Math.max(260, 60 + 28 * names.length), option: {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: function (v) { return v + " %"; } },
        legend: { type: "scroll", top: 0 },
        grid: { left: 160, right: 30, top: 40, bottom: 30 },
        xAxis: { type: "value", max: 100, name: "%" },
        yAxis: { type: "category", data: names, inverse: true, name: "endpoint" },
        series: d.versions.map(function (v, i) {
          return { name: v, type: "bar", stack: "share", data: d.endpoints.map(function (e) { return e.shares[i]; }) };
        })
      } };
    },
    boxes: function (d, el) {
      var key = el.getAttribute("data-key");
      var items = d[key] || [];
      // The slowest durations beyond the upper whisker, as points: the stalls a box hides.
      var beyond = [];
      items.forEach(function (b, i) {
        (b.beyond_ms || []).forEach(function (v) { beyond.push({ value: [i, v], name: b.name }); });
      });
      var axis = durationAxis(items.map(function (b) {
        return { low_ms: b.low_ms, high_ms: Math.max(b.high_ms, (b.beyond_ms || [0])[0] || 0) };
      }));
      return { points: items.length, option: {
        tooltip: { trigger: "item", formatter: boxTooltip },
        grid: { left: 60, right: 20, top: 30, bottom: items.length > 6 ? 100 : 50 },
        xAxis: { type: "category", name: KEY_NAMES[key] || "", nameLocation: "middle", nameGap: items.length > 6 ? 80 : 28, data: items.map(function (b) { return b.name; }), axisLabel: { rotate: items.length > 6 ? 45 : 0, interval: 0, width: 90, overflow: "truncate" } },
        yAxis: axis,
        series: [{ name: "duration", type: "boxplot", data: items.map(function (b) {
          return { value: [b.low_ms, b.q1_ms, b.median_ms, b.q3_ms, b.high_ms], stats: b,
            itemStyle: { borderColor: b.color || "#0061ff", color: "rgba(0,97,255,0.08)" } };
        }) }, { name: "beyond the whisker", type: "scatter", symbolSize: 6, itemStyle: { color: "#c62828" }, data: beyond,
          tooltip: { formatter: function (p) { return p.data.name + "\n" + ms(p.value[1]) + " ms, beyond the upper whisker"; } } }]
      } };
    },
    bubbles: function (d, el) {
      var most = d.points.reduce(function (m, p) { return Math.max(m, p[3]); }, 1);
      var fastest = d.points.reduce(function (m, p) { return Math.min(m, p[2]); }, Infinity);
      // The colours span at least the fastest median to half as much again: a 71-74 ms spread
      // is not green against red. One value gets no scale at all.
      var single = d.max_median_ms <= fastest;
      var scale = single ? [] : [{ type: "continuous", dimension: 2, min: fastest, max: Math.max(d.max_median_ms, fastest * 1.5), precision: 2, right: 0, top: "middle", text: ["slow", "fast"], calculable: true, inRange: { color: ["#2e7d32", "#f9a825", "#c62828"] } }];
      return { points: d.points.length, height: Math.max(260, 80 + 26 * d.keys.length), option: {
        tooltip: { formatter: function (p) { return d.keys[p.value[1]] + " on " + d.versions[p.value[0]] + "\nmedian " + ms(p.value[2]) + " ms over " + p.value[3] + " requests"; } },
        grid: { left: 140, right: 90, top: 30, bottom: 40 },
        xAxis: { type: "category", data: d.versions, name: "version" },
        yAxis: { type: "category", data: d.keys, inverse: true, name: el.getAttribute("data-api").indexOf("ip_") !== -1 ? "client address" : "user (group_by)" },
        visualMap: scale,
        series: [{ type: "scatter", data: d.points, itemStyle: single ? { color: "#0061ff" } : undefined, symbolSize: function (v) { return 8 + 30 * Math.sqrt(v[3] / most); } }]
      } };
    },
    // Percentile lines on a millisecond axis, the error rate as bars on a percent axis.
    timeline: function (d) {
      var hits = 0;
      d.buckets.forEach(function (b) { hits += b.hits; });
      var pairs = function (key) { return d.buckets.map(function (b) { return [b.time, b[key]]; }); };
      var measured = d.buckets.filter(function (b) { return b.p50_ms !== null; }).length;
      var line = function (name, key, color) {
        // Points of their own while there are few: a lone busy minute is otherwise invisible.
        return { name: name, type: "line", showSymbol: measured <= 60, symbolSize: 4, data: pairs(key), itemStyle: { color: color }, lineStyle: { width: 1.5 } };
      };
      var minutes = d.bucket_seconds / 60;
      return { points: hits ? d.buckets.length : 0, option: {
        tooltip: { trigger: "axis", formatter: function (ps) {
          var b = d.buckets[ps[0].dataIndex];
          var text = localTime(b.time) + " (" + (minutes < 60 ? minutes + " min" : minutes / 60 + " h") + ")\n" +
            b.hits + " requests, " + b.errors + " errors" + (b.hits ? " (" + b.error_rate + " %)" : "");
          if (b.p50_ms !== null) text += "\np50 " + ms(b.p50_ms) + " · p95 " + ms(b.p95_ms) + " · p99 " + ms(b.p99_ms) + " ms";
          return text;
        } },
        legend: { top: 0, data: ["p50", "p95", "p99", "error rate"] },
        grid: { left: 60, right: 60, top: 36, bottom: 30 },
        xAxis: { type: "time", min: d.start, max: d.end, axisLabel: { hideOverlap: true, formatter: TIME_LABELS } },
        yAxis: [
          { type: "value", name: "ms", min: 0, nameTextStyle: { align: "right" } },
          { type: "value", name: "errors %", min: 0, max: function (v) { return Math.min(100, Math.max(5, Math.ceil(v.max / 5) * 5)); }, splitLine: { show: false }, nameTextStyle: { align: "left" } }
        ],
        series: [
          line("p50", "p50_ms", "#0061ff"), line("p95", "p95_ms", "#e8890c"), line("p99", "p99_ms", "#c2255c"),
          { name: "error rate", type: "bar", yAxisIndex: 1, data: pairs("error_rate"), itemStyle: { color: "rgba(224, 49, 49, 0.45)" }, barMaxWidth: 12 }
        ]
      } };
    },
    line: function (d) {
      return { points: d.points.length, option: {
        tooltip: { trigger: "axis", formatter: function (ps) { var p = ps[0]; return localTime(p.value[0]) + "\n" + p.value[1]; } },
        grid: { left: 70, right: 30, top: 20, bottom: 40 },
        xAxis: { type: "time", min: d.start, max: d.end, axisLabel: { hideOverlap: true, formatter: TIME_LABELS } },
        yAxis: { type: "value", scale: true, name: d.title },
        series: [{ name: d.title, type: "line", showSymbol: d.points.length < 60, data: d.points, itemStyle: { color: "#0061ff" }, areaStyle: { opacity: 0.08 } }]
      } };
    },
    status: function (d, el) {
      var table = el.parentNode.querySelector(".error-requests");
      if (table && d.errors.length) {
        var body = table.querySelector("tbody");
        body.textContent = "";
        d.errors.forEach(function (r) {
          var tr = document.createElement("tr");
          [localTime(r.time_requested), r.status_code, r.duration_ms.toFixed(2), r.version, r.group_by, r.ip].forEach(function (v, i) {
            var td = document.createElement("td");
            if (i === 1 || i === 2) td.className = "num";
            td.textContent = v;
            tr.appendChild(td);
          });
          body.appendChild(tr);
        });
        table.hidden = false;
      }
      return { points: d.codes.length, option: {
        tooltip: { trigger: "item", formatter: "{b}: {c} requests ({d} %)" },
        legend: { orient: "vertical", left: 0, top: "middle" },
        series: [{ type: "pie", radius: ["35%", "70%"], center: ["60%", "50%"], data: d.codes.map(function (c) {
          return { name: String(c.status_code), value: c.count, itemStyle: { color: STATUS_COLORS[Math.floor(c.status_code / 100)] || "#777" } };
        }) }]
      } };
    }
  };

  // A report's two sides as box plots, from the page's own data.
  function pairCharts() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-pair]"), function (el) {
      var d = JSON.parse(el.getAttribute("data-pair"));
      var items = [];
      d.boxes.forEach(function (b, i) { if (b) items.push({ name: d.labels[i], stats: b }); });
      el.setAttribute("data-points", String(items.length));
      chart(el, {
        tooltip: { trigger: "item", formatter: boxTooltip },
        grid: { left: 50, right: 10, top: 20, bottom: 30 },
        xAxis: { type: "category", data: items.map(function (b) { return b.name; }) },
        yAxis: durationAxis(items.map(function (b) { return b.stats; })),
        series: [{ type: "boxplot", data: items.map(function (b, i) {
          return { value: [b.stats.low_ms, b.stats.q1_ms, b.stats.median_ms, b.stats.q3_ms, b.stats.high_ms], stats: b.stats,
            itemStyle: { borderColor: i ? "#c62828" : "#0061ff", color: i ? "rgba(198,40,40,0.08)" : "rgba(0,97,255,0.08)" } };
        }) }]
      });
    });
    var compare = document.getElementById("compare");
    if (!compare) return;
    function show() {
      Array.prototype.forEach.call(document.querySelectorAll(".for-compare"), function (f) {
        f.hidden = f.getAttribute("data-for") !== compare.value;
        Array.prototype.forEach.call(f.querySelectorAll("input, select"), function (i) { i.disabled = f.hidden; });
      });
    }
    compare.addEventListener("change", show);
    show();
  }

  // Timelines whose range ends now are fetched again this often while the page is shown.
  var LIVE_REFRESH_MS = 10000;

  function drawCharts() {
    var els = document.querySelectorAll("[data-chart]");
    if (!els.length) return;
    var params = new URLSearchParams(location.search);
    Array.prototype.forEach.call(els, function (el) {
      var empty = document.createElement("p");
      empty.className = "chart-empty muted";
      empty.textContent = "Loading…";
      el.parentNode.insertBefore(empty, el);
      // A timeline names its own range (data-range); the other charts take the page's days.
      var query = [], range = el.getAttribute("data-range");
      if (range) query.push("range=" + encodeURIComponent(range));
      (range ? ["instance"] : ["from", "to", "instance"]).forEach(function (k) {
        if (params.get(k)) query.push(k + "=" + encodeURIComponent(params.get(k)));
      });
      var url = base + "/api/" + el.getAttribute("data-api") + (query.length ? "?" + query.join("&") : "");
      loadChart(el, url, empty);
    });
  }

  function loadChart(el, url, empty) {
    fetch(url, { credentials: "same-origin" })
      .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, body: body }; }); })
      .then(function (r) {
        if (!r.ok) throw new Error(r.body.error || "the chart could not be loaded");
        el.fmdLive = r.body.live;
        if (r.body.live) refreshLater(el, url, empty);
        var drawn = DRAW[el.getAttribute("data-chart")](r.body, el);
        el.fmdData = r.body;
        el.setAttribute("data-points", String(drawn.points));
        if (!drawn.points) {
          empty.textContent = el.getAttribute("data-empty") || "No requests in this range. Pick another range above, or send the endpoint some traffic.";
          if (!empty.parentNode) el.parentNode.insertBefore(empty, el);
          el.hidden = true;
          return;
        }
        el.hidden = false;
        if (r.body.sampled) {
          empty.textContent = "From an even sample of " + r.body.sample_size + " of " + r.body.requests + " requests.";
          empty.className = "chart-note muted small";
        } else {
          empty.remove();
        }
        if (drawn.height) el.style.height = drawn.height + "px";
        if (el.fmdChart) {
          el.fmdChart.setOption(drawn.option, true);
        } else {
          chart(el, drawn.option);
        }
      })
      .catch(function (e) {
        el.setAttribute("data-points", "0");
        el.hidden = true;
        empty.textContent = "Could not load this chart: " + e.message;
        empty.classList.add("bad");
        if (!empty.parentNode) el.parentNode.insertBefore(empty, el);
        // A live chart tries again: the dashboard may be restarting.
        if (el.fmdLive) refreshLater(el, url, empty);
      });
  }

  // Loads a live chart again in LIVE_REFRESH_MS, or once its page is shown again.
  function refreshLater(el, url, empty) {
    setTimeout(function again() {
      if (document.hidden) return setTimeout(again, LIVE_REFRESH_MS);
      empty.classList.remove("bad");
      loadChart(el, url, empty);
    }, LIVE_REFRESH_MS);
  }

  function sourceLinks() {
    var dialog = document.getElementById("source-dialog");
    if (!dialog) return;
    document.addEventListener("click", function (ev) {
      var link = ev.target.closest && ev.target.closest("a.source-link");
      if (!link) return;
      ev.preventDefault();
      fetch(base + "/api/functions/" + link.getAttribute("data-function") + "/source", { credentials: "same-origin" })
        .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, body: body }; }); })
        .then(function (r) {
          if (!r.ok) throw new Error(r.body.error || "not found");
          dialog.querySelector(".source-title").textContent = r.body.name;
          dialog.querySelector(".source-where").textContent = r.body.file + ":" + r.body.start_line;
          dialog.querySelector(".source-code").textContent = r.body.code || "(no source stored: source capture is off, or this is a tracing span, which carries only its file and line)";
          dialog.showModal();
        })
        .catch(function (e) { toast("Could not load the source: " + e.message, true); });
    });
  }

  // Rust source, highlighted by a small tokenizer: comments, strings, numbers, macros, keywords.
  var KEYWORDS = /^(as|async|await|break|const|continue|crate|dyn|else|enum|extern|false|fn|for|if|impl|in|let|loop|match|mod|move|mut|pub|ref|return|self|Self|static|struct|super|trait|true|type|unsafe|use|where|while)$/;
  function highlight(line) {
    var out = document.createDocumentFragment();
    var re = /(\/\/.*$)|("(?:[^"\\]|\\.)*"?)|('(?:[^'\\]|\\.)')|(\b\d[\d_]*(?:\.\d+)?\b)|(\b[a-z_][a-z0-9_]*!)|([A-Za-z_][A-Za-z0-9_]*)/g;
    var last = 0, m;
    while ((m = re.exec(line)) !== null) {
      if (m.index > last) out.appendChild(document.createTextNode(line.slice(last, m.index)));
      var cls = m[1] ? "cm" : (m[2] || m[3]) ? "st" : m[4] ? "nu" : m[5] ? "ma" : KEYWORDS.test(m[6]) ? "kw" : "";
      if (cls) {
        var span = document.createElement("span");
        span.className = cls;
        span.textContent = m[0];
        out.appendChild(span);
      } else {
        out.appendChild(document.createTextNode(m[0]));
      }
      last = re.lastIndex;
    }
    if (last < line.length) out.appendChild(document.createTextNode(line.slice(last)));
    return out;
  }

  var sources = {};
  function fetchSource(id) {
    if (!sources[id]) {
      sources[id] = fetch(base + "/api/functions/" + id + "/source", { credentials: "same-origin" })
        .then(function (res) { return res.json().then(function (body) { if (!res.ok) throw new Error(body.error || "not found"); return body; }); });
      sources[id].catch(function () { delete sources[id]; });
    }
    return sources[id];
  }

  function frameSources() {
    document.addEventListener("click", function (ev) {
      var button = ev.target.closest && ev.target.closest("button.show-source");
      if (!button) return;
      var box = button.closest("li.frame").querySelector(".source-box");
      if (!box.hidden) { box.hidden = true; return; }
      fetchSource(button.getAttribute("data-function")).then(function (src) {
        var hit = parseInt(button.getAttribute("data-line"), 10);
        var pre = document.createElement("pre");
        src.code.split("\n").forEach(function (text, i) {
          var n = src.start_line + i;
          var row = document.createElement("span");
          row.className = "ln" + (n === hit ? " hit" : "");
          row.setAttribute("data-n", String(n));
          row.appendChild(highlight(text));
          pre.appendChild(row);
        });
        box.textContent = "";
        if (!src.code) box.textContent = "(no source was captured)";
        else box.appendChild(pre);
        box.hidden = false;
      }).catch(function (e) { toast("Could not load the source: " + e.message, true); });
    });
  }

  function deleteGroups() {
    Array.prototype.forEach.call(document.querySelectorAll("button.delete-group"), function (button) {
      button.addEventListener("click", function () {
        if (!window.confirm("Delete this exception group and all its occurrences?")) return;
        fetch(base + "/api/exceptions/" + button.getAttribute("data-group"), {
          method: "DELETE",
          credentials: "same-origin",
          headers: { "X-CSRF-Token": cookie("fmd_csrf") }
        }).then(function (res) {
          return res.json().then(function (body) { if (!res.ok) throw new Error(body.error || "refused"); });
        }).then(function () {
          button.closest("section.group").remove();
          toast("The exception group was deleted.");
        }).catch(function (e) { toast("Could not delete the group: " + e.message, true); });
      });
    });
  }

  function send(method, path, body) {
    return fetch(base + "/api/" + path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": cookie("fmd_csrf") },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      return res.json().then(function (b) { if (!res.ok) throw new Error(b.error || "refused"); return b; });
    });
  }

  function maintenance() {
    var form = document.getElementById("prune-form");
    if (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var days = parseInt(form.elements.days.value, 10);
        if (!window.confirm("Delete every request older than " + days + " days, with its outliers, profiles and exceptions?")) return;
        send("POST", "prune", { days: days }).then(function (r) {
          toast(r.deleted_requests + " requests deleted.");
          setTimeout(function () { location.reload(); }, 1200);
        }).catch(function (e) { toast("Could not delete: " + e.message, true); });
      });
    }
    Array.prototype.forEach.call(document.querySelectorAll("button.delete-data"), function (button) {
      button.addEventListener("click", function () {
        if (!window.confirm("Delete everything recorded for " + button.getAttribute("data-name") + "?")) return;
        send("DELETE", "endpoints/" + button.getAttribute("data-endpoint") + "/data").then(function (r) {
          toast(r.deleted_requests + " requests deleted.");
          setTimeout(function () { location.reload(); }, 1200);
        }).catch(function (e) { toast("Could not delete: " + e.message, true); });
      });
    });
  }

  function userForms() {
    var add = document.getElementById("add-user");
    if (add) {
      add.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var f = add.elements;
        if (f.password.value !== f.confirm.value) { toast("The passwords do not match.", true); return; }
        send("POST", "users", { username: f.username.value, password: f.password.value, confirm: f.confirm.value, role: f.role.value })
          .then(function (u) {
            toast("Added " + u.role + " " + u.username + ".");
            setTimeout(function () { location.reload(); }, 1000);
          }).catch(function (e) { toast("Could not add the user: " + e.message, true); });
      });
    }
    Array.prototype.forEach.call(document.querySelectorAll("form.password-form"), function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var f = form.elements;
        if (f.password.value !== f.confirm.value) { toast("The passwords do not match.", true); return; }
        send("PUT", "users/" + form.getAttribute("data-user") + "/password", { password: f.password.value, confirm: f.confirm.value })
          .then(function () {
            form.reset();
            toast("Password of " + form.getAttribute("data-name") + " changed.");
          }).catch(function (e) { toast("Could not change the password: " + e.message, true); });
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("button.end-sessions"), function (button) {
      button.addEventListener("click", function () {
        var name = button.getAttribute("data-name");
        var what = button.getAttribute("data-me") ? "your other sessions" : "every session of " + name;
        if (!window.confirm("End " + what + "? They must log in again.")) return;
        send("DELETE", "sessions", { username: name }).then(function (r) {
          toast(r.ended + " session" + (r.ended === 1 ? "" : "s") + " of " + name + " ended.");
          setTimeout(function () { location.reload(); }, 1000);
        }).catch(function (e) { toast("Could not end the sessions: " + e.message, true); });
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("button.delete-user"), function (button) {
      button.addEventListener("click", function () {
        if (!window.confirm("Delete the user " + button.getAttribute("data-name") + "?")) return;
        send("DELETE", "users/" + button.getAttribute("data-user")).then(function () {
          toast("Deleted " + button.getAttribute("data-name") + ".");
          setTimeout(function () { location.reload(); }, 1000);
        }).catch(function (e) { toast("Could not delete: " + e.message, true); });
      });
    });
  }

  function alertForms() {
    Array.prototype.forEach.call(document.querySelectorAll("button.test-alert"), function (button) {
      button.addEventListener("click", function () {
        var name = button.getAttribute("data-name");
        button.disabled = true;
        send("POST", "alerts/test", { channel: button.getAttribute("data-channel") }).then(function (r) {
          toast("Test alert delivered to " + name + " (" + r.detail + ").");
          setTimeout(function () { location.reload(); }, 1500);
        }).catch(function (e) {
          toast(e.message, true);
          setTimeout(function () { location.reload(); }, 3000);
        }).then(function () { button.disabled = false; });
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("button.save-thresholds"), function (button) {
      button.addEventListener("click", function () {
        var row = button.closest("tr");
        var body = {};
        ["error_rate_percent", "latency_p95_ms"].forEach(function (key) {
          var v = row.querySelector("input[name=" + key + "]").value.trim();
          body[key] = v === "" ? null : Number(v);
        });
        send("PUT", "endpoints/" + button.getAttribute("data-endpoint") + "/alerts", body).then(function () {
          toast("Thresholds of " + button.getAttribute("data-name") + " saved.");
        }).catch(function (e) { toast("Could not save: " + e.message, true); });
      });
    });
  }

  // Narrow screens: the menu button opens the sidebar over the page; Escape or a click
  // elsewhere closes it.
  function navMenu() {
    var button = document.querySelector(".menu-button");
    if (!button) return;
    function set(open) {
      document.body.classList.toggle("nav-open", open);
      button.setAttribute("aria-expanded", String(open));
    }
    button.addEventListener("click", function (e) {
      e.stopPropagation();
      set(!document.body.classList.contains("nav-open"));
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape") set(false);
    });
    document.addEventListener("click", function (e) {
      if (document.body.classList.contains("nav-open") && !e.target.closest(".sidebar")) set(false);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    navMenu();
    maintenance();
    userForms();
    alertForms();
    var dataTable = document.getElementById("data-endpoints");
    if (dataTable) sortable(dataTable);
    var groups = document.getElementById("exceptions");
    if (groups) sortable(groups);
    frameSources();
    deleteGroups();
    cpuChart(document.getElementById("cpu-chart"));
    grouped();
    drawCharts();
    bulkLevels();
    pairCharts();
    sourceLinks();
    var table = document.getElementById("overview");
    if (table) {
      sortable(table);
      var input = document.getElementById("filter");
      if (input) filterable(input, table);
    }
    levelSelects();
    Array.prototype.forEach.call(document.querySelectorAll("select.autosubmit"), function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
    refreshTimes();
    setInterval(refreshTimes, 30000);
  });
})();
