/* The guide editor in the admin (guides.admin_editor): the slug from the title, the
   translation key from the guide translated (shown beside the steps), steps moved by drag and
   drop or by keyboard with their positions renumbered 1..n, and a live Markdown preview beside
   each text. Addresses and sentences come from #guide-editor's data attributes. Everything here
   is an aid: without it, the server fills the slug and key and renumbers the positions. */
(function () {
  "use strict";

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      const args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function ready(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  ready(function () {
    const config = document.getElementById("guide-editor");
    if (!config) return;
    const text = config.dataset;
    const form = config.closest("form");
    const announcer = document.querySelector("[data-editor-announce]");
    const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

    function announce(message) {
      if (!announcer) return;
      announcer.textContent = "";
      // A new text node after a tick, so that a repeated message is read again.
      setTimeout(function () { announcer.textContent = message; }, 50);
    }

    // --- the slug and the translation key ---------------------------------------------------
    const title = form.querySelector("[data-slug-source]");
    const slug = form.querySelector("input[data-slug]");
    const key = form.querySelector("input[data-translation-key]");
    const company = form.querySelector("#id_company");
    const language = form.querySelector("#id_language");
    const source = form.querySelector("select[name=translation_of]");
    // Filled by hand (or saved before): left alone from then on.
    let slugByHand = !!(slug && slug.value);
    let keyByHand = !!(key && key.value);

    function fillSlug() {
      if (!title || !slug || slugByHand) return;
      const query = new URLSearchParams({
        title: title.value,
        company: company ? company.value : "",
        language: language ? language.value : "",
        guide: text.guide || "",
      });
      fetch(text.slugUrl + "?" + query.toString(), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data || slugByHand) return;
          slug.value = data.slug;
          if (key && !keyByHand) key.value = data.slug;
        })
        .catch(function () { /* the server fills it on save */ });
    }
    const fillSlugSoon = debounce(fillSlug, 250);
    if (title) title.addEventListener("input", fillSlugSoon);
    if (language) language.addEventListener("change", fillSlugSoon);
    if (company) {
      company.addEventListener("change", fillSlugSoon);
      // The admin's autocomplete (select2) tells of a choice through jQuery's events only.
      if (window.django && window.django.jQuery) window.django.jQuery(company).on("change", fillSlugSoon);
    }
    if (slug) slug.addEventListener("input", function () { slugByHand = slug.value !== ""; });
    if (key) key.addEventListener("input", function () { keyByHand = key.value !== ""; });

    const sourcePanel = document.querySelector("[data-translation-source]");
    if (source) {
      source.addEventListener("change", function () {
        const option = source.options[source.selectedIndex];
        if (!option || !option.value) return;
        if (key && option.dataset.translationKey) {
          key.value = option.dataset.translationKey;
          keyByHand = true;
        }
        if (language && (!language.value || language.value === option.dataset.language)) {
          const other = Array.prototype.find.call(language.options, function (o) {
            return o.value && o.value !== option.dataset.language;
          });
          if (other) language.value = other.value;
        }
        if (!sourcePanel) return;
        fetch(text.sourceUrl.replace("/0/", "/" + option.value + "/"), { credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.text() : ""; })
          .then(function (html) { sourcePanel.innerHTML = html; })
          .catch(function () { /* the panel shows after saving */ });
      });
    }

    // --- the steps: order and positions -----------------------------------------------------
    const group = document.getElementById("steps-group");

    function rows() {
      if (!group) return [];
      return Array.prototype.filter.call(
        group.querySelectorAll(".inline-related"),
        function (row) { return !row.classList.contains("empty-form") && row.querySelector("[data-step-position]"); }
      );
    }

    function counts(row) {
      // Saved steps and new ones with a title are numbered; a blank extra form stays blank,
      // or it would be saved as a step without a title (a form error).
      const id = row.querySelector("input[name$='-id']");
      const stepTitle = row.querySelector("[data-step-title]");
      return (id && id.value) || (stepTitle && stepTitle.value.trim());
    }

    function renumber() {
      let number = 0;
      rows().forEach(function (row) {
        const position = row.querySelector("[data-step-position]");
        if (counts(row)) {
          number += 1;
          position.value = number;
          // A new step's heading says "#<form number>": its number in the guide instead.
          const label = row.querySelector("h3 .inline_label");
          if (label && !row.classList.contains("has_original")) label.textContent = "#" + number;
        }
      });
      return number;
    }

    function stepName(row) {
      const stepTitle = row.querySelector("[data-step-title]");
      return (stepTitle && stepTitle.value.trim()) || text.textUntitled;
    }

    function moved(row) {
      const count = renumber();
      const position = row.querySelector("[data-step-position]").value || "?";
      announce(text.textMoved
        .replace("{title}", stepName(row))
        .replace("{position}", position)
        .replace("{count}", count));
    }

    function move(row, by) {
      const all = rows();
      const index = all.indexOf(row);
      const target = all[index + by];
      if (!target) return false;
      if (by < 0) target.parentNode.insertBefore(row, target);
      else target.parentNode.insertBefore(row, target.nextSibling);
      moved(row);
      return true;
    }

    function button(label, className, glyph) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "step-move " + className;
      b.setAttribute("aria-label", label);
      b.title = label;
      b.textContent = glyph;
      return b;
    }

    let dragged = null;

    function enhance(row) {
      if (row.querySelector(".step-move-tools")) return;
      const tools = document.createElement("span");
      tools.className = "step-move-tools";
      const handle = button(text.textHandle, "step-handle", "⠿");
      const up = button(text.textUp, "step-up", "↑");
      const down = button(text.textDown, "step-down", "↓");
      tools.append(handle, up, down);
      const heading = row.querySelector("h3");
      heading.insertBefore(tools, heading.firstChild);

      up.addEventListener("click", function () { move(row, -1); up.focus(); });
      down.addEventListener("click", function () { move(row, 1); down.focus(); });
      handle.addEventListener("keydown", function (event) {
        const by = event.key === "ArrowUp" ? -1 : event.key === "ArrowDown" ? 1 : 0;
        if (!by) return;
        event.preventDefault();
        move(row, by);
        handle.focus();
      });
      // Drag and drop by the handle only, so that text in the fields can still be selected.
      handle.addEventListener("mousedown", function () { row.draggable = true; });
      handle.addEventListener("mouseup", function () { row.draggable = false; });
      row.addEventListener("dragstart", function (event) {
        dragged = row;
        row.classList.add("step-dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", stepName(row));
      });
      row.addEventListener("dragover", function (event) {
        if (!dragged || dragged === row) return;
        event.preventDefault();
        const box = row.getBoundingClientRect();
        const after = event.clientY > box.top + box.height / 2;
        row.parentNode.insertBefore(dragged, after ? row.nextSibling : row);
      });
      row.addEventListener("drop", function (event) { event.preventDefault(); });
      row.addEventListener("dragend", function () {
        row.draggable = false;
        row.classList.remove("step-dragging");
        if (dragged) moved(dragged);
        dragged = null;
      });
      const stepTitle = row.querySelector("[data-step-title]");
      if (stepTitle) stepTitle.addEventListener("input", renumber);
      row.querySelectorAll("textarea[data-markdown]").forEach(withPreview);
    }

    // --- the Markdown preview ---------------------------------------------------------------
    function withPreview(textarea) {
      if (textarea.closest(".empty-form") || textarea.dataset.previewed) return;
      textarea.dataset.previewed = "1";
      const wrapper = document.createElement("div");
      wrapper.className = "markdown-editor";
      textarea.parentNode.insertBefore(wrapper, textarea);
      wrapper.appendChild(textarea);
      const pane = document.createElement("div");
      pane.className = "markdown-preview";
      const label = document.createElement("p");
      label.className = "markdown-preview-label";
      label.textContent = text.textPreview;
      const body = document.createElement("div");
      body.className = "markdown-preview-body";
      body.setAttribute("dir", "auto");
      body.setAttribute("data-markdown-preview", "");
      pane.append(label, body);
      wrapper.appendChild(pane);

      function render() {
        if (!textarea.value.trim()) {
          body.textContent = text.textPreviewEmpty;
          body.classList.add("markdown-preview-empty");
          return;
        }
        const data = new FormData();
        data.append("text", textarea.value);
        data.append("csrfmiddlewaretoken", csrf);
        fetch(text.markdownUrl, { method: "POST", body: data, credentials: "same-origin" })
          .then(function (response) { return response.json(); })
          .then(function (result) {
            if (typeof result.html !== "string") throw new Error(result.error || "preview");
            // Rendered and sanitised by the server (guides.markdown), as the public page is.
            body.innerHTML = result.html;
            body.classList.remove("markdown-preview-empty");
          })
          .catch(function () { body.textContent = text.textPreviewFailed; });
      }
      textarea.addEventListener("input", debounce(render, 400));
      render();
    }

    // --- names for the autocompletes' boxes ---------------------------------------------------
    // The admin's select2 draws boxes of its own without a name: the search box of a multiple
    // choice (the tags), redrawn as choices change, and the box of a single one (the company),
    // named after its selection alone, which is empty before a choice. Each is named after the
    // field's label whenever it appears.
    function labelSearchBoxes() {
      form.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
        const label = form.querySelector("label[for='" + select.id + "']");
        const container = select.nextElementSibling;
        if (!label || !container) return;
        if (!label.id) label.id = select.id + "-label";
        container.querySelectorAll(".select2-search__field:not([aria-labelledby])").forEach(function (box) {
          box.setAttribute("aria-labelledby", label.id);
        });
        container.querySelectorAll(".select2-selection__rendered[role=textbox]:not([aria-labelledby])").forEach(function (box) {
          box.setAttribute("aria-labelledby", label.id);
        });
        container.querySelectorAll(".select2-selection--single[aria-labelledby]").forEach(function (box) {
          const ids = box.getAttribute("aria-labelledby").split(" ");
          if (ids.indexOf(label.id) === -1) box.setAttribute("aria-labelledby", label.id + " " + ids.join(" "));
        });
      });
    }
    labelSearchBoxes();
    new MutationObserver(labelSearchBoxes).observe(form, { childList: true, subtree: true });

    form.querySelectorAll("#id_summary[data-markdown]").forEach(withPreview);
    rows().forEach(enhance);
    document.addEventListener("formset:added", function (event) {
      if (event.detail && event.detail.formsetName === "steps") {
        enhance(event.target);
        renumber();
      }
    });
    form.addEventListener("submit", renumber);
  });
})();
