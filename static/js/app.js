// Gwangju Hub's own behaviour on top of htmx and KRDS. No inline scripts
// anywhere, so a strict Content-Security-Policy can be switched on later.
(function () {
  "use strict";

  document.addEventListener("htmx:configRequest", function () {
    // Nothing to add: the CSRF token travels in hx-headers on <body>.
  });

  // An expired session must not swap the login page into a fragment: the
  // server answers htmx with HX-Redirect, and 4xx/5xx show a readable notice.
  document.addEventListener("htmx:responseError", function (event) {
    var target = document.getElementById("htmx-error");
    if (target) {
      target.hidden = false;
      target.focus();
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
