// The progress of an applied guide import (admin/guides/guide/import_review.html): polls the
// staff-only JSON of guides.admin_import.import_progress and moves the bar; once every file
// has its outcome, reloads the page to show them. Without script the page's link reloads it.
(function () {
  "use strict";
  const section = document.querySelector(".import-progress[data-progress-url]");
  if (!section) return;
  const url = section.dataset.progressUrl;
  const bar = section.querySelector(".import-progress-bar");
  const percent = section.querySelector(".import-progress-percent");
  const count = section.querySelector(".import-progress-count");
  const countText = count.textContent;

  function show(progress) {
    bar.value = progress.percent;
    bar.textContent = progress.percent + " %";
    percent.textContent = progress.percent;
    // The count's words come from the page, in its language; only the numbers change.
    count.textContent = countText
      .replace(/\d+/, String(progress.done))
      .replace(/(\D+)\d+/, "$1" + String(progress.total));
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (progress) {
        show(progress);
        if (progress.state === "done") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 3000);
      });
  }
  window.setTimeout(poll, 500);
})();
