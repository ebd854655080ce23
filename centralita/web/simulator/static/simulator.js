// The customer simulator's page: send without reloading (Enter sends, Shift+Enter is a new
// line) and show new answers as they arrive by asking the server every second. Polling, not
// Server-Sent Events: the simulator is a development tool, and a poll needs no sign-in.
(function () {
  "use strict";
  var list = document.getElementById("sim-messages");
  var form = document.getElementById("compose");
  var body = document.getElementById("sim-body");
  var errorBox = document.getElementById("sim-error");
  var statusLine = document.getElementById("sim-chat-status");
  if (!list || !form || !body) return;
  var labels = JSON.parse(list.dataset.labels || "{}");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var lastShown = "";

  function label(key) { return labels[key] || key; }

  function bubble(m) {
    var li = document.createElement("li");
    li.className = "bubble " + m.direction + " " + m.author;
    li.dataset.id = m.id;
    var author = document.createElement("span");
    author.className = "author";
    author.textContent = label(m.author);
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = m.text;
    var meta = document.createElement("span");
    meta.className = "meta";
    var time = (m.created_at || "").slice(11, 16);
    meta.textContent = m.direction === "out" ? time + " · " + label(m.status) : time;
    li.append(author, text, meta);
    return li;
  }

  function render(data) {
    var key = JSON.stringify(data);
    if (key === lastShown) return;
    lastShown = key;
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren();
    if (!data.messages.length) {
      var empty = document.createElement("li");
      empty.className = "sim-empty";
      empty.textContent = label("empty");
      list.append(empty);
    }
    data.messages.forEach(function (m) { list.append(bubble(m)); });
    if (data.chat && statusLine) {
      var parts = ["Chat " + data.chat.id, label(data.chat.status)];
      if (data.chat.agent) parts.push(data.chat.agent);
      statusLine.textContent = parts.join(" · ");
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function showError(message) {
    if (!errorBox) return;
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  function refresh() {
    return fetch(list.dataset.url, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && data.messages) render(data); })
      .catch(function () { /* the next poll tries again */ });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!body.value.trim()) return;
    var data = new FormData(form);
    body.value = "";
    fetch(form.action, {
      method: "POST",
      body: data,
      headers: { Accept: "application/json", "X-CSRFToken": csrf ? csrf.content : "" },
    })
      .then(function (r) { return r.json().then(function (json) { return [r.ok, json]; }); })
      .then(function (result) {
        if (result[0]) { showError(""); render(result[1]); list.scrollTop = list.scrollHeight; }
        else { showError(result[1].error ? result[1].error.message : "Error"); }
      })
      .catch(function (err) { showError(String(err)); });
  });

  body.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  list.scrollTop = list.scrollHeight;
  setInterval(refresh, 1000);
})();
