// fmd dashboard: relative times, sortable and filterable tables, the level select.
(function () {
  "use strict";
  var base = document.body.getAttribute("data-base") || "";

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

  function levelSelects() {
    var selects = document.querySelectorAll("select.level");
    Array.prototype.forEach.call(selects, function (sel) {
      sel.setAttribute("data-current", sel.value);
      sel.addEventListener("change", function () {
        var previous = sel.getAttribute("data-current"), level = parseInt(sel.value, 10);
        sel.disabled = true;
        fetch(base + "/api/endpoints/" + sel.getAttribute("data-endpoint") + "/level", {
          method: "PUT",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": cookie("fmd_csrf") },
          body: JSON.stringify({ level: level })
        }).then(function (res) {
          return res.json().then(function (body) { return { ok: res.ok, body: body }; });
        }).then(function (r) {
          if (!r.ok) throw new Error(r.body.error || "the change was refused");
          sel.setAttribute("data-current", String(level));
          sel.parentNode.setAttribute("data-value", String(level));
          toast("Level of " + sel.getAttribute("data-name") + " set to " + level + "; it applies from the next request.");
        }).catch(function (e) {
          sel.value = previous;
          toast("Could not change the level: " + e.message, true);
        }).then(function () { sel.disabled = false; });
      });
    });
  }

  // Charts are drawn with the vendored ECharts, only on pages that load it.
  function chart(el, option) {
    if (!el || typeof echarts === "undefined") return null;
    var c = echarts.init(el);
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
      xAxis: { type: "category" },
      yAxis: { type: "value", min: 0, max: 100, name: "%" },
      series: [
        { name: "CPU use", type: "boxplot", datasetIndex: 1, itemStyle: { color: "#e3eeff", borderColor: "#0061ff" } },
        { name: "beyond the whiskers", type: "scatter", datasetIndex: 2 }
      ]
    });
  }

  function sunburst(el) {
    if (!el) return;
    var rows = JSON.parse(el.getAttribute("data-paths") || "[]");
    var nodes = {}, roots = [];
    rows.forEach(function (r) {
      var key = r.path.join("\u0000");
      var node = { name: r.path[r.path.length - 1], value: r.total_ms, total: r.total_ms, children: [] };
      nodes[key] = node;
      var parent = nodes[r.path.slice(0, -1).join("\u0000")];
      if (r.path.length > 1 && parent) parent.children.push(node); else roots.push(node);
    });
    // Concurrent children (join!) can add up to more than their parent's time: draw them
    // scaled into the parent's ring, and show the real totals in the tooltip.
    function fit(node, room) {
      node.value = Math.min(node.value, room);
      var sum = node.children.reduce(function (a, c) { return a + c.value; }, 0);
      var scale = sum > node.value && sum > 0 ? node.value / sum : 1;
      node.children.forEach(function (c) { fit(c, c.value * scale); });
      if (!node.children.length) delete node.children;
    }
    roots.forEach(function (r) { fit(r, r.value); });
    chart(el, {
      tooltip: { formatter: function (p) { return p.name + ": " + (p.data.total || 0).toFixed(3) + " ms in all"; } },
      series: [{ type: "sunburst", data: roots, radius: [0, "95%"], sort: null,
        label: { rotate: "radial", minAngle: 8 }, emphasis: { focus: "ancestor" } }]
    });
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
          dialog.querySelector(".source-code").textContent = r.body.code || "(source capture is off)";
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

  document.addEventListener("DOMContentLoaded", function () {
    maintenance();
    var groups = document.getElementById("exceptions");
    if (groups) sortable(groups);
    frameSources();
    deleteGroups();
    cpuChart(document.getElementById("cpu-chart"));
    sunburst(document.getElementById("sunburst"));
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
