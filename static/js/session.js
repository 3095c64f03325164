// Session-timeout warning (KWCAG 2.2 "응답시간 조절"): a dialog shortly before
// the session ends, offering to stay logged in without leaving the page.
//
// The server says how many seconds are left (data- attributes on the dialog,
// then the X-Session-Remaining header of every htmx response), and the page
// counts down from there: no polling, which would also keep the session alive.
// Before warning and at the end it asks the status endpoint once, because
// another tab may have kept the session alive meanwhile. When the time is up
// it reloads the page, and the server sends it to the login page with a
// message saying why.
(function () {
  "use strict";

  var dialog = document.getElementById("session-dialog");
  if (!dialog || typeof dialog.showModal !== "function") { return; }

  var warningMs = Number(dialog.dataset.warningSeconds) * 1000;
  var idleText = document.getElementById("session-dialog-idle");
  var absoluteText = document.getElementById("session-dialog-absolute");
  var extendButton = dialog.querySelector("[data-session-extend]");
  var logoutButton = dialog.querySelector("form button[type=submit]");
  var countdowns = dialog.querySelectorAll("[data-session-countdown]");
  var idleEnd = 0;
  var absoluteEnd = 0;
  var warnTimer = null;
  var expireTimer = null;
  var countdownTimer = null;
  var restoreFocus = null;
  var absoluteDismissed = false;

  function now() { return Date.now(); }
  function end() { return Math.min(idleEnd, absoluteEnd); }
  function endsByAbsoluteLimit() { return absoluteEnd <= idleEnd; }

  function setRemaining(idleSeconds, absoluteSeconds) {
    idleEnd = now() + idleSeconds * 1000;
    absoluteEnd = now() + absoluteSeconds * 1000;
  }

  function schedule() {
    clearTimeout(warnTimer);
    clearTimeout(expireTimer);
    var left = end() - now();
    expireTimer = setTimeout(expire, Math.max(0, left));
    if (!dialog.open && !(absoluteDismissed && endsByAbsoluteLimit())) {
      warnTimer = setTimeout(warn, Math.max(0, left - warningMs));
    }
  }

  // Ask the server how long is left; it does not count as activity.
  function refresh(then) {
    fetch(dialog.dataset.statusUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (clock) { setRemaining(clock.idle_remaining, clock.absolute_remaining); })
      .catch(function () { /* unreachable server: go by our own count */ })
      .then(then);
  }

  function warn() {
    refresh(function () {
      if (end() - now() > warningMs + 1000) { schedule(); return; }
      open();
    });
  }

  function expire() {
    refresh(function () {
      if (end() - now() > 1000) {
        if (dialog.open && end() - now() > warningMs) { close(); }
        schedule();
        return;
      }
      // A GET of the same page: the server ends the session and shows the
      // login page with the reason (a reload could re-post a form).
      window.location.assign(window.location.href);
    });
  }

  function tick() {
    var seconds = Math.max(0, Math.ceil((end() - now()) / 1000));
    var text = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
    countdowns.forEach(function (element) { element.textContent = text; });
  }

  function open() {
    var absolute = endsByAbsoluteLimit();
    idleText.hidden = absolute;
    absoluteText.hidden = !absolute;
    extendButton.hidden = absolute;
    dialog.setAttribute("aria-describedby", absolute ? absoluteText.id : idleText.id);
    restoreFocus = document.activeElement;
    tick();
    dialog.showModal();
    (absolute ? logoutButton : extendButton).focus();
    clearInterval(countdownTimer);
    countdownTimer = setInterval(tick, 1000);
    schedule();
  }

  function close() {
    clearInterval(countdownTimer);
    if (dialog.open) { dialog.close(); }
    if (restoreFocus && typeof restoreFocus.focus === "function") { restoreFocus.focus(); }
    restoreFocus = null;
  }

  function extend() {
    var token = dialog.querySelector("input[name=csrfmiddlewaretoken]").value;
    extendButton.disabled = true;
    fetch(dialog.dataset.extendUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token, Accept: "application/json" }
    })
      .then(function (response) {
        // A redirect means the session had already ended (to the login page).
        if (!response.ok || response.redirected) { throw new Error("not extended"); }
        return response.json();
      })
      .then(function (clock) {
        extendButton.disabled = false;
        setRemaining(clock.idle_remaining, clock.absolute_remaining);
        close();
        schedule();
      })
      .catch(function () { window.location.assign(window.location.href); });
  }

  extendButton.addEventListener("click", extend);

  // Escape: in the idle warning, the person is clearly there, so stay logged
  // in; the absolute limit cannot be extended, so Escape only dismisses it.
  dialog.addEventListener("cancel", function (event) {
    if (endsByAbsoluteLimit()) {
      absoluteDismissed = true;
      clearInterval(countdownTimer);
      return;
    }
    event.preventDefault();
    extend();
  });

  // Every signed-in response says how long is left; htmx requests are activity.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    var header = xhr && xhr.getResponseHeader("X-Session-Remaining");
    if (!header) { return; }
    var parts = header.split(",");
    setRemaining(Number(parts[0]), Number(parts[1]));
    if (dialog.open && end() - now() > warningMs) { close(); }
    schedule();
  });

  // Background tabs run timers late: look again when the page is shown.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { schedule(); }
  });

  setRemaining(Number(dialog.dataset.idleRemaining), Number(dialog.dataset.absoluteRemaining));
  schedule();
})();
