// Refresh the supervisor's live part (queue, agents, alerts) every few seconds, unless the
// person is using something inside it (keyboard focus stays where it is).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) return;
  var url = live.dataset.liveUrl;
  function refresh() {
    if (document.hidden || live.contains(document.activeElement)) return;
    fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html !== null && html !== undefined) live.innerHTML = html; })
      .catch(function () { /* try again next time */ });
  }
  setInterval(refresh, 5000);
})();
