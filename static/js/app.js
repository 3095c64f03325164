// Gwangju Hub's own behaviour on top of htmx and KRDS. No inline scripts,
// event handlers or style attributes anywhere: the Content-Security-Policy
// allows scripts and styles from our static files only.
(function () {
  "use strict";

  // A failed htmx request changes nothing on the page (htmx 2 swaps no 4xx/5xx),
  // so it must say so: the #htmx-error alert (templates/partials/htmx_error.html)
  // shows a message for the status, in the page's language (rendered by the
  // server into data-message-* attributes), until the next request succeeds.
  // An expired session is not an error here: the server answers HX-Redirect.
  function errorRegion() {
    return document.getElementById("htmx-error");
  }

  function showError(kind) {
    var region = errorRegion();
    if (!region) { return; }
    var text = region.getAttribute("data-message-" + kind) ||
      region.getAttribute("data-message-other");
    region.querySelector(".htmx-error__text").textContent = text;
    region.hidden = false;
  }

  function clearError() {
    var region = errorRegion();
    if (!region || region.hidden) { return; }
    region.hidden = true;
    region.querySelector(".htmx-error__text").textContent = "";
  }

  function kindOf(status) {
    if (status >= 500) { return "5xx"; }
    if ([400, 403, 404, 413].indexOf(status) !== -1) { return String(status); }
    return "other";
  }

  document.addEventListener("htmx:responseError", function (event) {
    showError(kindOf(event.detail.xhr.status));
  });
  document.addEventListener("htmx:sendError", function () { showError("network"); });
  document.addEventListener("htmx:timeout", function () { showError("network"); });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) { clearError(); }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest(".htmx-error__close")) { clearError(); }
  });

  // A file over the limit is refused here, before minutes of uploading end in
  // a 413 (file inputs carry their limit in data-max-bytes; the server checks too).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt.closest && event.detail.elt.closest("form");
    if (!form) { return; }
    var inputs = form.querySelectorAll("input[type=file][data-max-bytes]");
    var tooLarge = Array.prototype.some.call(inputs, function (input) {
      var limit = Number(input.getAttribute("data-max-bytes"));
      return Array.prototype.some.call(input.files || [], function (file) {
        return file.size > limit;
      });
    });
    if (tooLarge) {
      event.preventDefault();
      showError("413");
    }
  });

  // KRDS initialises its components once on DOMContentLoaded; re-run the
  // ones that can appear inside swapped content. Each init skips elements it
  // has already bound.
  document.addEventListener("htmx:afterSettle", function () {
    /* global krds_accordion, krds_tab */
    if (typeof krds_accordion !== "undefined") { krds_accordion.init(); }
    if (typeof krds_tab !== "undefined") { krds_tab.init(); }
  });
})();

// A filter box for long <select multiple> lists (cooperating agencies):
// typing hides the options that don't match; chosen ones always stay visible.
(function () {
  "use strict";
  function bind(root) {
    root.querySelectorAll("[data-filter-options]").forEach(function (input) {
      if (input.dataset.bound) { return; }
      input.dataset.bound = "1";
      var wrapper = input.closest(".js-only");
      if (wrapper) { wrapper.hidden = false; }
      var select = document.getElementById(input.dataset.filterOptions);
      if (!select) { return; }
      input.addEventListener("input", function () {
        var needle = input.value.trim().toLowerCase();
        Array.prototype.forEach.call(select.options, function (option) {
          var match = !needle || option.text.toLowerCase().indexOf(needle) !== -1;
          option.hidden = !(match || option.selected);
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:load", function (event) { bind(event.target); });
})();

// "Print" links open the browser's print dialog; without JavaScript they load
// the same page, which the print stylesheet lays out on A4.
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("[data-print]");
  if (link) {
    event.preventDefault();
    window.print();
  }
});

// The issue list's filter panel (<details data-open-wide>) is folded on a phone,
// so the results are on the first screen; on a wider screen it starts open.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.matchMedia("(min-width: 769px)").matches) { return; }
  document.querySelectorAll("details[data-open-wide]").forEach(function (panel) {
    panel.open = true;
  });
});
