// The ticket work page, made quicker (everything works without this script):
// - the canned reply picker inserts the filled-in reply into the reply box, sets the status
//   to go with it and remembers which reply it was (counted when sent), instead of the
//   round trip of its "Use" button;
// - the guide link search's "Insert link" buttons put the link at the cursor;
// - a beat every few seconds tells the server this page is open (and whether a reply is
//   being typed), and shows who else has the ticket open or is typing a reply on it.
(function () {
  "use strict";

  var replyBox = document.querySelector(".reply-form textarea[name=body]");

  function insertText(text) {
    if (!replyBox) {
      return;
    }
    var start = replyBox.selectionStart || 0;
    var end = replyBox.selectionEnd || 0;
    var before = replyBox.value.slice(0, start);
    var after = replyBox.value.slice(end);
    replyBox.value = before + text + after;
    replyBox.focus();
    replyBox.selectionStart = replyBox.selectionEnd = start + text.length;
    replyBox.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // --- canned replies ---
  var picker = document.getElementById("canned-picker");
  var dataNode = document.getElementById("canned-replies-data");
  if (picker && dataNode && replyBox) {
    var replies = JSON.parse(dataNode.textContent || "{}");
    picker.addEventListener("submit", function (event) {
      var choice = replies[picker.elements.canned_reply.value];
      if (!choice) {
        return; // the server explains
      }
      event.preventDefault();
      insertText(choice.body);
      var form = replyBox.form;
      form.elements.canned_reply.value = picker.elements.canned_reply.value;
      var status = form.elements.status_after;
      if (status && choice.status) {
        for (var i = 0; i < status.options.length; i++) {
          if (status.options[i].value === choice.status) {
            status.value = choice.status;
          }
        }
      }
    });
  }

  document.querySelectorAll(".guide-link-insert").forEach(function (button) {
    button.hidden = !replyBox;
    button.addEventListener("click", function () {
      insertText(button.getAttribute("data-insert"));
    });
  });

  // --- presence ---
  var box = document.getElementById("presence");
  var token = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (!box || !token || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-url");
  var beatSeconds = parseInt(box.getAttribute("data-beat"), 10) || 15;
  var typed = false;
  if (replyBox) {
    replyBox.addEventListener("input", function () {
      typed = true;
    });
  }

  function show(others) {
    box.textContent = "";
    others.forEach(function (other) {
      var line = document.createElement("p");
      line.className = "presence-other" + (other.typing ? " presence-typing" : "");
      line.textContent = other.text;
      box.appendChild(line);
    });
  }

  function beat() {
    var body = new URLSearchParams();
    body.set("typing", typed ? "1" : "0");
    typed = false;
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token.value },
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data) {
          show(data.others || []);
        }
      })
      .catch(function () {
        // Offline for a moment: the next beat tries again.
      });
  }

  beat();
  window.setInterval(beat, beatSeconds * 1000);
  window.addEventListener("pagehide", function () {
    var body = new URLSearchParams();
    body.set("left", "1");
    body.set("csrfmiddlewaretoken", token.value);
    if (navigator.sendBeacon) {
      navigator.sendBeacon(url, body);
    }
  });
})();
