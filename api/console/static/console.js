// The console's only script besides htmx: keep a selection stable while the list refreshes.
(function () {
  "use strict";
  function selecting() {
    return document.querySelector('#jobs-table input[name="ids"]:checked') !== null;
  }
  // Pause the live refresh of the job list while rows are selected for a bulk action.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (evt.detail.elt && evt.detail.elt.id === "jobs-table" && selecting()) {
      evt.preventDefault();
    }
  });
  document.addEventListener("change", function (evt) {
    var box = evt.target;
    if (box.classList && box.classList.contains("select-all")) {
      document.querySelectorAll('#jobs-table input[name="ids"]').forEach(function (b) { b.checked = box.checked; });
    }
  });
  // Irreversible actions ask first (the button says what, in data-confirm).
  document.addEventListener("submit", function (evt) {
    var button = evt.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      evt.preventDefault();
    }
  });
})();
