// Follow an import: ask for its status twice a second, move the bar, and show the result
// (reload the page, which lists the rejected rows) once it has finished.
(function () {
  "use strict";
  var box = document.getElementById("upload");
  if (!box || box.dataset.finished === "true") return;
  var bar = document.getElementById("upload-progress");
  var percent = document.getElementById("upload-percent");
  var state = document.getElementById("upload-state");
  function poll() {
    fetch(box.dataset.statusUrl, { headers: { Accept: "application/json", "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (status) {
        if (!status) { setTimeout(poll, 2000); return; }
        bar.value = status.percent;
        percent.textContent = status.percent + "%";
        if (status.finished || status.stale) { window.location.reload(); return; }
        if (status.state === "running") state.dataset.state = "running";
        setTimeout(poll, 500);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 300);
})();
