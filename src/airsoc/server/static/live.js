// The console's only script (served from the package; the Content-Security-Policy allows no
// inline script). Every page works without it; with it the page stays live:
//  - every few seconds it fetches the page again and swaps in each section marked data-live
//    whose content changed, unless the reader is typing in it;
//  - every <time datetime> shows in the reader's time zone, to the second;
//  - every chart's time-axis labels (SVG text.tick-time) show in the reader's time zone, with
//    the date when the chart's ticks fall on more than one local day;
//  - every .countdown counts down to its deadline, to the second;
//  - forms marked data-inplace are sent without leaving the page, which then refreshes.
(function () {
  "use strict";

  var body = document.body;
  var pollSeconds = Number(body.getAttribute("data-live-poll") || "0");
  var serverNow = Date.parse(body.getAttribute("data-server-now") || "");
  // The server's clock is the reference for countdowns: the browser's may be off.
  var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();
  var pad = function (n) { return (n < 10 ? "0" : "") + n; };


  function formatTimes(root) {
    var nodes = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var date = new Date(node.getAttribute("datetime"));
      if (isNaN(date.getTime())) { continue; }
      if (!node.hasAttribute("title")) { node.setAttribute("title", node.textContent); }
      node.textContent = localTime(date);
    }
  }

  function zoneName(date) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(date);
      for (var i = 0; i < parts.length; i++) {
        if (parts[i].type === "timeZoneName") { return parts[i].value; }
      }
    } catch (e) { return ""; }
    return "";
  }

  function localDay(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate());
  }

  function localTime(date) {
    var zone = zoneName(date);
    return localDay(date) + " " + pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" +
      pad(date.getSeconds()) + (zone ? " " + zone : "");
  }

  function formatAxes(root) {
    var charts = root.querySelectorAll("svg");
    for (var c = 0; c < charts.length; c++) {
      var ticks = charts[c].querySelectorAll("text.tick-time[data-at]");
      if (!ticks.length) { continue; }
      var days = {};
      var dates = [];
      for (var i = 0; i < ticks.length; i++) {
        var date = new Date(ticks[i].getAttribute("data-at"));
        dates.push(date);
        if (!isNaN(date.getTime())) { days[localDay(date)] = true; }
      }
      var dated = Object.keys(days).length > 1;
      for (var j = 0; j < ticks.length; j++) {
        var d = dates[j];
        if (isNaN(d.getTime())) { continue; }
        var unit = ticks[j].getAttribute("data-unit");
        var clock = pad(d.getHours()) + ":" + pad(d.getMinutes()) +
          (unit === "second" ? ":" + pad(d.getSeconds()) : "");
        ticks[j].textContent = unit === "day" ? localDay(d) :
          (dated ? pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " : "") + clock;
      }
      var caption = charts[c].querySelector("text.tick-zone[data-from]");
      if (caption) {
        var from = new Date(caption.getAttribute("data-from"));
        var to = new Date(caption.getAttribute("data-to"));
        if (!isNaN(from.getTime()) && !isNaN(to.getTime())) {
          var span = localDay(from) === localDay(to) ? localDay(from) :
            localDay(from) + " to " + localDay(to);
          caption.textContent = "times " + (zoneName(from) || "local") + ", " + span;
        }
      }
    }
  }

  function tickCountdowns() {
    var nodes = document.querySelectorAll(".countdown[data-deadline]");
    var now = Date.now() + skew;
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var left = Math.floor((Date.parse(node.getAttribute("data-deadline")) - now) / 1000);
      var then = node.getAttribute("data-then") || "";
      if (left <= 0) {
        node.textContent = "timed out (" + then + ")";
        node.classList.add("expired");
        continue;
      }
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      node.textContent = "times out in " + (h > 0 ? h + ":" + pad(m) : String(m)) + ":" + pad(s) +
        " (then " + then + ")";
      node.classList.toggle("soon", left < 120);
    }
  }

  function busy(node) {
    // Never replace a section while the reader is typing in it.
    var active = document.activeElement;
    if (active && active !== body && node.contains(active) &&
        (active.tagName === "INPUT" || active.tagName === "TEXTAREA" || active.tagName === "SELECT")) {
      return true;
    }
    var fields = node.querySelectorAll("input:not([type=hidden]), textarea");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value && fields[i].value !== fields[i].defaultValue) { return true; }
    }
    return false;
  }

  function liveIds(root) {
    var ids = [];
    var nodes = root.querySelectorAll("[data-live][id]");
    for (var i = 0; i < nodes.length; i++) { ids.push(nodes[i].id); }
    return ids.join(" ");
  }

  var status = document.getElementById("live-status");
  function say(text) { if (status) { status.textContent = text; } }

  function apply(html) {
    var next = new DOMParser().parseFromString(html, "text/html");
    var main = document.querySelector("main");
    var nextMain = next.querySelector("main");
    if (!main || !nextMain) { return; }
    if (liveIds(main) !== liveIds(nextMain)) {
      // A section appeared or went away: take the new page unless someone is typing.
      if (!busy(main)) { main.innerHTML = nextMain.innerHTML; formatTimes(main); formatAxes(main); }
      return;
    }
    var nodes = nextMain.querySelectorAll("[data-live][id]");
    for (var i = 0; i < nodes.length; i++) {
      var fresh = nodes[i];
      var old = document.getElementById(fresh.id);
      if (!old || old.getAttribute("data-source") === fresh.innerHTML || busy(old)) { continue; }
      old.innerHTML = fresh.innerHTML;
      old.setAttribute("data-source", fresh.innerHTML);
      formatTimes(old);
      formatAxes(old);
    }
    tickCountdowns();
  }

  var inFlight = false;
  function refresh() {
    if (inFlight || document.hidden) { return Promise.resolve(); }
    inFlight = true;
    return fetch(window.location.pathname + window.location.search, {
      credentials: "same-origin",
      headers: { "X-Airsoc-Live": "1" },
      cache: "no-store",
    }).then(function (r) {
      if (r.redirected && /\/login/.test(r.url)) { say("session ended: log in again"); return; }
      if (!r.ok) { say("live updates paused (" + r.status + ")"); return; }
      return r.text().then(function (html) {
        apply(html);
        say("live, updated " + localTime(new Date()).split(" ")[1]);
      });
    }).catch(function () {
      say("live updates paused: the server does not answer");
    }).then(function () { inFlight = false; });
  }

  function remember() {
    var nodes = document.querySelectorAll("[data-live][id]");
    for (var i = 0; i < nodes.length; i++) { nodes[i].setAttribute("data-source", nodes[i].innerHTML); }
  }

  function errorText(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var node = doc.querySelector(".error");
    return node ? node.textContent : "the request failed";
  }

  // Forms marked data-inplace (acknowledge, approve, reject) go by fetch; the page refreshes.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-inplace")) { return; }
    event.preventDefault();
    var data = new URLSearchParams(new FormData(form));
    var button = event.submitter;
    if (button && button.name) { data.append(button.name, button.value); }
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = true; }
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) {
        if (r.ok) {
          form.reset();
          inFlight = false;
          return refresh();
        }
        return r.text().then(function (html) {
          var note = form.querySelector(".form-error") || document.createElement("p");
          note.className = "form-error error";
          note.setAttribute("role", "alert");
          note.textContent = errorText(html);
          form.appendChild(note);
        });
      })
      .catch(function () { say("could not send: the server does not answer"); })
      .then(function () {
        for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = false; }
      });
  });

  remember();  // the server's markup, before the times are put in the reader's zone
  formatTimes(document);
  formatAxes(document);
  tickCountdowns();
  window.setInterval(tickCountdowns, 1000);
  if (pollSeconds > 0) {
    window.setInterval(refresh, pollSeconds * 1000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { refresh(); } });
  }
})();
