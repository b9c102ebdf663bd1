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
    var times = document.querySelectorAll("table#overview time[datetime], .details time[datetime]");
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

  document.addEventListener("DOMContentLoaded", function () {
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
