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

  // Never swap a region under someone's hands: one with focus, or one where a field was
  // touched (a half-written reason, a chosen condition) stays as it is until the next load.
  function touched(event) {
    var region = event.target.closest && event.target.closest("[data-live-region]");
    if (region) { region.setAttribute("data-live-touched", ""); }
  }
  document.addEventListener("input", touched, true);
  document.addEventListener("change", touched, true);

  function inUse(region) {
    if (region.hasAttribute("data-live-touched")) { return true; }
    var active = document.activeElement;
    return Boolean(active && active !== document.body && region.contains(active));
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
