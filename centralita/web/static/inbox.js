// The inbox's live parts: Server-Sent Events say what changed (ids only); the page fetches
// the fragments again (the chat list, the open conversation). Enter sends a reply; closing a
// chat asks for a reason in a dialog. Works by keyboard alone.
(function () {
  "use strict";
  var root = document.getElementById("inbox");
  if (!root) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var chatId = root.dataset.chat ? Number(root.dataset.chat) : null;
  var listBox = document.getElementById("chatlist");
  var box = document.getElementById("messages-box");
  var form = document.getElementById("reply-form");
  var text = document.getElementById("reply-text");
  var errorBox = document.getElementById("reply-error");
  var liveStatus = document.getElementById("live-status");

  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); throw new Error("signed out"); }
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      });
  }

  var baseTitle = document.title;
  function refreshList() {
    var url = root.dataset.listUrl + (chatId ? "?current=" + chatId : "");
    return get(url).then(function (html) {
      // Someone moving through the list by keyboard keeps their place when it is redrawn.
      var focused = document.activeElement && listBox.contains(document.activeElement)
        ? document.activeElement.closest("li[data-chat-id]") : null;
      listBox.innerHTML = html;
      if (focused) {
        var again = listBox.querySelector('li[data-chat-id="' + focused.dataset.chatId + '"] a');
        if (again) { again.focus(); }
      }
      // Unread messages in the tab's title, for an agent working in another tab.
      var unread = 0;
      listBox.querySelectorAll(".badge:not(.alert)").forEach(function (badge) {
        unread += parseInt(badge.textContent, 10) || 0;
      });
      document.title = (unread ? "(" + unread + ") " : "") + baseTitle;
    }).catch(function () {});
  }

  function lostChat() {
    // Reassigned or closed by someone else: this page may no longer show or answer it.
    if (form) { form.hidden = true; }
    document.getElementById("reply-hint").hidden = true;
    var note = document.getElementById("read-only");
    note.textContent = root.dataset.lost;
    note.hidden = false;
  }

  function scrollDown() { if (box) { box.scrollTop = box.scrollHeight; } }

  function refreshMessages() {
    if (!box) { return Promise.resolve(); }
    var read = document.visibilityState === "visible" ? "?read=1" : "";
    var nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    return get(box.dataset.url + read).then(function (html) {
      box.innerHTML = html;
      var list = document.getElementById("messages");
      var mine = list && list.dataset.mine === "1";
      if (form) { form.hidden = !mine; }
      document.getElementById("reply-hint").hidden = !mine;
      document.getElementById("read-only").hidden = mine;
      var closer = document.getElementById("close-open");
      if (closer && list && list.dataset.status === "closed") { closer.hidden = true; }
      if (nearBottom) { scrollDown(); }
    }).catch(function (error) {
      if (error.message === "404") { lostChat(); }
    });
  }

  // Several events in a burst (a message and its bot replies) make one refresh.
  var pending = { list: false, chat: false }, timer = null;
  function schedule(chat) {
    pending.list = true;
    pending.chat = pending.chat || chat;
    if (timer) { return; }
    timer = setTimeout(function () {
      timer = null;
      var chat = pending.chat;
      pending = { list: false, chat: false };
      // The open chat first (it marks it read), then the list (its unread counts).
      return (chat ? refreshMessages() : Promise.resolve()).then(refreshList);
    }, 50);
  }

  function listen() {
    var source = new EventSource(root.dataset.eventsUrl);
    var onEvent = function (message) {
      var data = {};
      try { data = JSON.parse(message.data); } catch (e) { return; }
      schedule(chatId !== null && data.chat_id === chatId);
    };
    ["message", "status", "chat", "alert"].forEach(function (kind) {
      source.addEventListener(kind, onEvent);
    });
    source.onopen = function () {
      liveStatus.textContent = root.dataset.live;
      schedule(chatId !== null);  // whatever happened while disconnected
    };
    source.onerror = function () {
      liveStatus.textContent = root.dataset.offline;
      // EventSource retries by itself; a 401 (signed out) closes it for good: check.
      if (source.readyState === EventSource.CLOSED) {
        get(root.dataset.listUrl).then(function () { setTimeout(listen, 2000); }, function () {});
      }
    };
  }
  listen();
  setInterval(refreshList, 30000);  // a safety net if an event was lost

  if (form && text) {
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = text.value;
      if (!body.trim()) { return; }
      errorBox.hidden = true;
      fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, "X-Requested-With": "fetch" },
        body: new URLSearchParams({ text: body }),
      }).then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        if (response.status === 201) {
          text.value = "";
          refreshMessages().then(scrollDown);
          return null;
        }
        return response.json().then(function (answer) {
          errorBox.textContent = answer.error.message;
          errorBox.hidden = false;
        });
      }).catch(function () { errorBox.hidden = false; });
    });
  }

  var dialog = document.getElementById("close-dialog");
  var opener = document.getElementById("close-open");
  if (dialog && opener) {
    opener.addEventListener("click", function () {
      dialog.showModal();
      document.getElementById("close-reason").focus();
    });
    document.getElementById("close-cancel").addEventListener("click", function () {
      dialog.close();
      opener.focus();
    });
  }
  scrollDown();
})();
