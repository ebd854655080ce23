// Keep the supervisor's live part (queue, agents, alerts) current. The server's live events
// (/events: Server-Sent Events, ids only) say when something changed; the part is then fetched
// again, at most every half second. A slow timer covers lost events and presence going stale.
// Nothing is replaced while the person is using something inside it (focus stays put).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) return;
  var url = live.dataset.liveUrl;
  var pending = null;
  function refresh() {
    pending = null;
    if (document.hidden || live.contains(document.activeElement)) return;
    fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html) live.innerHTML = html; })
      .catch(function () { /* try again next time */ });
  }
  function soon() { if (!pending) pending = setTimeout(refresh, 500); }
  if (window.EventSource) {
    var events = new EventSource("/events");
    events.onmessage = soon;
  }
  setInterval(refresh, 15000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) soon(); });
})();
