// Keyboard shortcuts and time-on-task for the annotation page. The form works without this file.
(function () {
  "use strict";
  var shownAt = performance.now();
  // One choice per pair shown: set by the first submit, cleared when the next pair is on screen.
  var locked = false;
  var keys = { "1": "A", a: "A", "2": "B", b: "B", "3": "tie", t: "tie", "4": "both_bad", x: "both_bad" };

  // The shortcut a key press means. The character typed names it on layouts that type Latin letters and
  // digits; where the key types something else (AZERTY's digit row gives & é " ' without Shift, a
  // Devanagari layout gives its letters), the physical key names it, so no layout needs Shift.
  function shortcut(event) {
    var key = (event.key || "").toLowerCase();
    if (/^[a-z0-9]$/.test(key)) return key;
    var code = /^(?:Digit|Numpad)([0-9])$|^Key([A-Z])$/.exec(event.code || "");
    return code ? (code[1] || code[2].toLowerCase()) : key;
  }

  function form() { return document.getElementById("judge-form"); }

  function minViewMs() {
    var task = document.getElementById("task");
    return task ? parseInt(task.getAttribute("data-min-view-ms") || "0", 10) || 0 : 0;
  }

  // The study's min_view_ms: the choices wait until the pair has been on screen that long (the server
  // refuses earlier answers anyway; this keeps a quick second press from landing on the next pair).
  function holdChoices() {
    var f = form();
    var wait = minViewMs();
    if (!f || wait <= 0) return;
    var buttons = f.querySelectorAll('button[name="choice"]');
    buttons.forEach(function (b) { b.disabled = true; });
    setTimeout(function () {
      if (form() === f) buttons.forEach(function (b) { b.disabled = false; });
    }, wait);
  }

  // The lease: renewed while the annotator is active (once half of it is gone), with a warning before
  // it ends when they are not. Times are counted from what the server said was left, not the clock.
  var leaseEndsAt = 0, leaseMs = 0, lastActivity = -Infinity, lastRenewal = 0, renewing = false;

  function readLease() {
    var task = document.getElementById("task");
    if (!task) return;
    var now = performance.now();
    leaseEndsAt = now + 1000 * (parseInt(task.getAttribute("data-lease-seconds") || "0", 10) || 0);
    leaseMs = 60000 * (parseInt(task.getAttribute("data-lease-minutes") || "0", 10) || 0);
    lastRenewal = now;
  }

  function renew() {
    var f = form(), task = document.getElementById("task");
    if (renewing || !f || !task) return;
    renewing = true;
    var body = new FormData();
    body.append("assignment", f.elements.assignment.value);
    fetch(task.getAttribute("data-renew-url"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": f.elements.csrfmiddlewaretoken.value },
    }).then(function (answer) {
      return answer.json().then(function (data) {
        if (answer.ok && form() === f) {
          leaseEndsAt = performance.now() + 1000 * data.expires_in_s;
          lastRenewal = performance.now();
          tick();
        }
      });
    }).catch(function () { /* offline for a moment: the next tick tries again */ })
      .then(function () { renewing = false; });
  }

  function tick() {
    var warning = document.getElementById("lease-warning");
    if (!warning || !leaseMs) return;
    var left = leaseEndsAt - performance.now();
    if (lastActivity > lastRenewal && left < leaseMs / 2) renew();
    warning.hidden = !(left < Math.min(60000, leaseMs / 3));
  }

  ["keydown", "pointerdown", "pointermove", "wheel", "scroll", "input", "touchstart"].forEach(function (name) {
    document.addEventListener(name, function () { lastActivity = performance.now(); }, { capture: true, passive: true });
  });
  setInterval(tick, 1000);

  function shown() { shownAt = performance.now(); locked = false; holdChoices(); readLease(); tick(); }

  document.body.addEventListener("htmx:afterSwap", shown);
  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful) locked = false;  // nothing was recorded: let them choose again
  });
  // Capture phase: runs before htmx reads the form, and for a plain (no-htmx) submit too.
  document.addEventListener("submit", function (event) {
    if (event.target !== form()) return;
    if (locked) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    locked = true;
    event.target.elements.time_taken_ms.value = Math.round(performance.now() - shownAt);
  }, true);

  document.addEventListener("keydown", function (event) {
    var f = form();
    if (!f || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    var key = shortcut(event);
    if (event.repeat) {  // a held key: one press, one action
      if (keys[key] || key === "s" || key === "c" || key === "r") event.preventDefault();
      return;
    }
    if (key === "s" || key === "c") {
      var radio = f.querySelector('input[name="strength"][value="' + (key === "s" ? "slightly" : "clearly") + '"]');
      radio.checked = !radio.checked;
      event.preventDefault();
    } else if (key === "r") {
      f.querySelector("textarea[name=rationale]").focus();
      event.preventDefault();
    } else if (keys[key]) {
      var button = f.querySelector('button[name="choice"][value="' + keys[key] + '"]');
      if (button && !button.disabled && !locked) button.click();
      event.preventDefault();
    }
  });

  // The header's Instructions link opens the panel wherever the annotator is on the page.
  var instructionsLink = document.getElementById("instructions-link");
  if (instructionsLink) {
    instructionsLink.addEventListener("click", function () {
      var panel = document.getElementById("instructions");
      if (panel) panel.open = true;
    });
  }

  holdChoices();
  readLease();
  tick();
})();
