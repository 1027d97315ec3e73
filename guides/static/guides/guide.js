// The guide page without full-page jumps (progressive enhancement: without this script the
// forms post and the server redirects to the next step, as before).
//
// A form of the guide (a step's outcome, the helpful vote, start over) is posted with fetch;
// the server answers with its usual redirect, which fetch follows to the guide page. The new
// page's article and messages replace the old ones in place, and focus moves to what comes
// next: the step now in focus, or the success and the helpful vote. A screen reader hears it
// through the page's polite live region. Anything unexpected falls back to a normal submit.
(function () {
  "use strict";

  function announcer() {
    return document.querySelector("[data-announce]");
  }

  function swap(html) {
    var next = new DOMParser().parseFromString(html, "text/html");
    var newArticle = next.querySelector("[data-guide]");
    var article = document.querySelector("[data-guide]");
    if (!newArticle || !article) {
      return false;
    }
    article.innerHTML = newArticle.innerHTML;
    var messages = document.querySelector("main .messages");
    var newMessages = next.querySelector("main .messages");
    if (messages) {
      messages.remove();
    }
    if (newMessages) {
      article.parentNode.insertBefore(document.importNode(newMessages, true), article);
    }
    return true;
  }

  function focusWhatComesNext(anchor) {
    var target = null;
    var said = "";
    var error = document.querySelector("main .messages .message-error");
    if (error) {
      target = document.getElementById(anchor);
      said = error.textContent;
    } else if (anchor === "feedback") {
      // The vote answered: stay on it, and say thank you.
      target = document.getElementById("feedback");
      var thanked = document.querySelector("main .messages li");
      said = thanked ? thanked.textContent : "";
    } else if (document.querySelector(".feedback-resolved")) {
      target = document.getElementById("feedback");
      said = target.querySelector(".banner-resolved").textContent;
    } else if (document.querySelector(".step-current")) {
      target = document.querySelector(".step-current");
      var progress = document.querySelector("[data-progress]");
      said = (progress ? progress.textContent + ": " : "") +
        target.querySelector("h3").textContent.trim();
    } else {
      target = document.getElementById(anchor) || document.querySelector("[data-guide] h1");
      var thanks = document.querySelector("main .messages li");
      said = thanks ? thanks.textContent : "";
    }
    if (!target) {
      return;
    }
    var heading = target.matches("h1, h2, h3") ? target : target.querySelector("h2, h3");
    (heading || target).focus({ preventScroll: true });
    target.scrollIntoView({ block: "start", behavior: "smooth" });
    if (target.id) {
      history.replaceState(null, "", "#" + target.id);
    }
    var live = announcer();
    if (live) {
      live.textContent = "";
      // A change after a tick: some screen readers skip a region filled in the same frame.
      window.setTimeout(function () { live.textContent = said.trim(); }, 50);
    }
  }

  function submitted(event) {
    var form = event.target;
    // The follow-up box has a script of its own (follow_up.js).
    if (!(form instanceof HTMLFormElement) || !form.closest("[data-guide]")
        || form.closest("[data-follow-up]")) {
      return;
    }
    if (form.method.toLowerCase() !== "post" || !window.fetch || !window.DOMParser) {
      return;
    }
    event.preventDefault();
    var data = new FormData(form);
    var submitter = event.submitter;
    if (submitter && submitter.name) {
      data.append(submitter.name, submitter.value);
    }
    var step = form.closest(".step");
    var anchor = step ? step.id : (form.closest("section") || {}).id;
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (button) { button.disabled = true; });
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) {
        return response.text().then(function (text) {
          return { ok: response.ok, text: text };
        });
      })
      .then(function (answer) {
        if (answer.ok && swap(answer.text)) {
          showCopy(); // the copy button came with the new article, hidden
          focusWhatComesNext(anchor);
          return;
        }
        // A refusal (e.g. too many answers, 429) is a page of its own: show it.
        document.open();
        document.write(answer.text);
        document.close();
      })
      .catch(function () {
        // The network failed before an answer: post the form the plain way.
        buttons.forEach(function (button) { button.disabled = false; });
        HTMLFormElement.prototype.submit.call(form);
      });
  }

  function copyLink(event) {
    var button = event.target.closest("[data-copy]");
    if (!button) {
      return;
    }
    var link = document.querySelector("[data-share]");
    var done = document.querySelector("[data-copied]");
    navigator.clipboard.writeText(link.href).then(function () {
      if (done) {
        done.hidden = false;
        var live = announcer();
        if (live) {
          live.textContent = done.textContent;
        }
      }
    });
  }

  function showCopy() {
    if (navigator.clipboard) {
      document.querySelectorAll("[data-copy]").forEach(function (b) { b.hidden = false; });
    }
  }

  // A link to a step (a search result's snippet, a follow-up's answer) opens that step, even
  // when it is folded: the address names the step the customer wants to read.
  function openLinkedStep() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.matches("details.step")) {
      target.open = true;
      target.scrollIntoView();
    }
  }

  document.addEventListener("submit", submitted);
  document.addEventListener("click", copyLink);
  document.addEventListener("DOMContentLoaded", showCopy);
  document.addEventListener("DOMContentLoaded", openLinkedStep);
  window.addEventListener("hashchange", openLinkedStep);
})();
