// The customer's request pages, made smoother (everything works without this script):
// - a "Copy the link" button for the status link (the link stays plain, selectable text);
// - a status page whose ticket is still being made asks a tiny JSON whether it is ready,
//   and reloads itself when it is (instead of a meta refresh, which screen readers and
//   axe-core rightly dislike).
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain HTTP (a local server): the older way, through a selection.
    var field = document.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.className = "request-offscreen";
    document.body.appendChild(field);
    field.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    document.body.removeChild(field);
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var result = button.parentNode.querySelector(".copy-result");
    if (!source) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(source.textContent.trim()).then(
        function () {
          if (result) {
            result.textContent = button.getAttribute("data-copied-text");
          }
        },
        function () {
          // Copy refused: select the link so that the customer can copy it themselves.
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }
      );
    });
  });

  var waiting = document.querySelector("[data-poll]");
  if (waiting && window.fetch) {
    var url = waiting.getAttribute("data-poll");
    var delay = 2000;
    var ask = function () {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          return response.ok ? response.json() : { ready: false };
        })
        .then(function (state) {
          if (state.ready) {
            window.location.reload();
            return;
          }
          delay = Math.min(delay * 1.5, 30000);
          window.setTimeout(ask, delay);
        })
        .catch(function () {
          delay = Math.min(delay * 2, 60000);
          window.setTimeout(ask, delay);
        });
    };
    window.setTimeout(ask, delay);
  }
})();
