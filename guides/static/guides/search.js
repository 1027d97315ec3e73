// Suggestions as the customer types in a search box (guides/_search_form.html).
//
// Progressive enhancement: without this script the box is a plain form that opens the search
// page. With it, a pause in typing (DELAY ms) asks the suggestions endpoint (data-suggestions,
// guides.search_views.search_suggestions) for the best few guides and lists them as links
// under the box; the status line (role="status", always in the page so that screen readers
// follow it) tells how many there are. Keys: ArrowDown from the box goes to the first link, ArrowUp/ArrowDown move
// among the links, Escape closes the list and goes back to the box. One request at a time:
// a newer keystroke aborts the one in flight, and answers are kept per address for the page.
(function () {
  "use strict";

  var DELAY = 250; // ms after the last keystroke
  var MIN_CHARS = 2;

  function enhance(form) {
    var input = form.querySelector("input[name=q]");
    var box = form.querySelector(".search-suggestions");
    var url = form.getAttribute("data-suggestions");
    if (!input || !box || !url || !window.fetch || !window.AbortController) {
      return;
    }
    var status = form.querySelector(".search-suggestions-status");
    var list = box.querySelector(".search-suggestions-list");
    var company = form.querySelector("input[name=company]");
    var language = document.documentElement.lang || "";
    var timer = null;
    var inFlight = null;
    var answers = {};
    var shownFor = null;
    var dismissed = false; // closed with Escape: not shown again until the words change

    input.setAttribute("autocomplete", "off");

    function close() {
      box.hidden = true;
    }

    function links() {
      return Array.prototype.slice.call(list.querySelectorAll("a"));
    }

    function show(answer, words) {
      shownFor = words;
      list.textContent = "";
      (answer.results || []).forEach(function (result) {
        var item = document.createElement("li");
        item.lang = result.language;
        item.dir = result.dir;
        var link = document.createElement("a");
        link.href = result.url;
        link.textContent = result.title;
        var source = document.createElement("span");
        source.className = "muted";
        source.textContent = result.company;
        item.appendChild(link);
        item.appendChild(document.createTextNode(" "));
        item.appendChild(source);
        list.appendChild(item);
      });
      status.textContent = answer.message || answer.detail || "";
      box.hidden = !links().length;
    }

    function ask() {
      var words = input.value.trim();
      if (words.length < MIN_CHARS) {
        close();
        status.textContent = "";
        return;
      }
      var params = new URLSearchParams({ q: words, language: language });
      if (company && company.value) {
        params.set("company", company.value);
      }
      var address = url + "?" + params.toString();
      if (answers[address]) {
        show(answers[address], words);
        return;
      }
      if (inFlight) {
        inFlight.abort();
      }
      inFlight = new AbortController();
      fetch(address, { headers: { Accept: "application/json" }, signal: inFlight.signal })
        .then(function (response) {
          return response.json().then(function (answer) {
            if (response.ok) {
              answers[address] = answer;
            }
            return answer;
          });
        })
        .then(function (answer) {
          if (input.value.trim() === words) {
            show(answer, words);
          }
        })
        .catch(function () {
          // Aborted by a newer keystroke, or offline: the form still works as a plain form.
        });
    }

    input.addEventListener("input", function () {
      dismissed = false;
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, DELAY);
    });

    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" && !box.hidden && links().length) {
        event.preventDefault();
        links()[0].focus();
      } else if (event.key === "Escape" && !box.hidden) {
        dismissed = true;
        close();
      }
    });

    list.addEventListener("keydown", function (event) {
      var all = links();
      var at = all.indexOf(document.activeElement);
      if (event.key === "ArrowDown" && at < all.length - 1) {
        event.preventDefault();
        all[at + 1].focus();
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (at > 0) {
          all[at - 1].focus();
        } else {
          input.focus();
        }
      } else if (event.key === "Escape") {
        dismissed = true;
        close();
        input.focus();
      }
    });

    input.addEventListener("focus", function () {
      if (!dismissed && shownFor === input.value.trim() && list.childElementCount) {
        box.hidden = false;
      }
    });

    // Closed when the focus leaves the form (not when it moves from the box to a link).
    form.addEventListener("focusout", function (event) {
      if (!event.relatedTarget || !form.contains(event.relatedTarget)) {
        close();
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form.search-form"), enhance);
})();
