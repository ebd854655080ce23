// Every signed-in page: a heartbeat every 30 s, and the agent's presence switch.
// The heartbeat keeps an agent available (presence goes stale after 90 s without one) and
// says whether the person used the keyboard or mouse since the last one: only that counts
// as activity for the sign-in's inactivity expiry (SESSION_IDLE_MINUTES).
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var heartbeatUrl = document.body.dataset.heartbeatUrl;
  var form = document.getElementById("presence-form");
  var active = false;
  ["keydown", "mousedown", "mousemove", "touchstart", "wheel"].forEach(function (kind) {
    document.addEventListener(kind, function () { active = true; }, { passive: true });
  });

  function post(url, data) {
    return fetch(url, {
      method: "POST", body: new URLSearchParams(data), credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "X-Requested-With": "fetch" },
    }).then(function (response) {
      if (response.status === 401) { window.location.reload(); }  // signed out or expired
      return response;
    });
  }
  window.centralitaPost = post;

  if (form) {
    var select = form.querySelector("select");
    select.addEventListener("change", function () { post(form.action, { status: select.value }); });
  }
  if (heartbeatUrl) {
    setInterval(function () {
      post(heartbeatUrl, { active: active ? "1" : "0" });
      active = false;
    }, 30000);
  }
})();
