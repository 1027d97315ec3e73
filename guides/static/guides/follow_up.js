// The follow-up box (guides/templates/guides/_follow_up.html): asking, and answering "did this
// answer your question?", without leaving the page. Each form is posted as it would be without
// script, with the X-Follow-Up header; the server answers with the part to show
// (_follow_up_answers.html), which goes into the box's live region. If the request cannot be
// made at all, the form is submitted the ordinary way.
(function () {
  "use strict";
  if (window.helpdeskFollowUp) {
    return; // the box is on the page twice: one listener serves both
  }
  window.helpdeskFollowUp = true;

  var FORMS = ".follow-up-form, .follow-up-verdict";

  function submitPlainly(form, submitter) {
    if (submitter && submitter.name) {
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = submitter.name;
      field.value = submitter.value;
      form.appendChild(field);
    }
    form.dataset.plain = "true";
    form.submit();
  }

  function send(form, box, submitter) {
    var region = box.querySelector(".follow-up-answers");
    var buttons = form.querySelectorAll("button");
    var data = new FormData(form);
    if (submitter && submitter.name) {
      data.append(submitter.name, submitter.value);
    }
    buttons.forEach(function (button) { button.disabled = true; });
    region.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      body: data,
      headers: { "X-Follow-Up": "fetch" },
      credentials: "same-origin",
    })
      .then(function (response) {
        // 400 and 429 come with a message to show, like a success.
        if (!response.ok && response.status !== 400 && response.status !== 429) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        region.innerHTML = html; // our own server's template, escaped there
        region.removeAttribute("aria-busy");
        buttons.forEach(function (button) { button.disabled = false; });
        var heading = region.querySelector(".follow-up-found");
        if (heading && form.classList.contains("follow-up-form")) {
          heading.focus({ preventScroll: true });
          heading.scrollIntoView({ block: "nearest" });
        }
      })
      .catch(function () {
        region.removeAttribute("aria-busy");
        submitPlainly(form, submitter);
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches(FORMS) || form.dataset.plain) {
      return;
    }
    var box = form.closest("[data-follow-up]");
    if (!box || !window.fetch) {
      return;
    }
    event.preventDefault();
    send(form, box, event.submitter);
  });
})();
