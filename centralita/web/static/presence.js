// The agent's presence switch and heartbeat (every page of an agent loads this).
// The heartbeat keeps the agent available (presence goes stale after 90 s without one) and
// says whether the person used the keyboard or mouse since the last one: only that counts
// as activity for the session's inactivity expiry.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var form = document.getElementById("presence-form");
  var active = false;
  ["keydown", "mousedown", "mousemove", "touchstart", "wheel"].forEach(function (kind) {
    document.addEventListener(kind, function () { active = true; }, { passive: true });
  });

  function post(url, data) {
    var body = new URLSearchParams(data);
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "X-Requested-With": "fetch" },
    }).then(function (response) {
      if (response.status === 401) { window.location.reload(); }  // signed out or expired
      return response;
    });
  }
  window.centralitaPost = post;

  if (form) {
    var select = form.querySelector("select");
    select.addEventListener("change", function () {
      post(form.action, { status: select.value });
    });
    var beat = function () {
      post(form.dataset.heartbeat || form.action.replace(/presence$/, "heartbeat"),
           { active: active ? "1" : "0" });
      active = false;
    };
    setInterval(beat, 30000);
  }
})();
