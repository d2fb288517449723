// Live updates on the staff pages: a Server-Sent Events stream says that something changed
// (a topic); the page then fetches itself and swaps the regions marked data-live-region.
// Everything works without this script: it only spares a reload.
(function () {
  "use strict";
  var main = document.querySelector("main[data-live-topics]");
  if (!main || !window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var topics = (main.getAttribute("data-live-topics") || "").split(" ").filter(Boolean);
  if (!topics.length) { return; }
  var status = document.querySelector("[data-live-status]");
  var pending = null;
  var busy = false;

  function inUse(region) {
    // Never swap a region under someone's hands: a focused field or a half-written reason.
    var active = document.activeElement;
    if (active && active !== document.body && region.contains(active)) { return true; }
    var fields = region.querySelectorAll("textarea, input[type=text], input[type=tel], input[type=email]");
    for (var i = 0; i < fields.length; i++) { if (fields[i].value) { return true; } }
    return false;
  }

  function refresh() {
    if (busy) { pending = true; return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live": "1" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var changed = false;
        document.querySelectorAll("[data-live-region]").forEach(function (region) {
          var name = region.getAttribute("data-live-region");
          var next = fresh.querySelector('[data-live-region="' + name + '"]');
          if (!next || inUse(region) || next.innerHTML === region.innerHTML) { return; }
          region.innerHTML = next.innerHTML;
          changed = true;
        });
        if (changed && status) { status.textContent = status.getAttribute("data-text") || ""; }
        document.documentElement.setAttribute("data-live-updated", String(Date.now()));
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        busy = false;
        if (pending) { pending = null; refresh(); }
      });
  }

  var source = new EventSource("/ansatt/direkte");
  topics.forEach(function (topic) { source.addEventListener(topic, refresh); });
  source.addEventListener("signed-out", function () { source.close(); });
  source.addEventListener("open", function () {
    document.documentElement.setAttribute("data-live", "open");
  });
})();
