// What every task form shares (a pair, a set, a conversation turn): which shortcut a key press means on any
// layout, time on task, one submit per task shown, the study's min_view_ms hold, the lease kept while the
// annotator is active, the Instructions link. A task form is a form[data-task-form]; the forms work without
// this file. Each kind of task adds its own keys with pluralwebTask.onShortcut (annotate.js, set_task.js).
window.pluralwebTask = (function () {
  "use strict";
  var shownAt = new WeakMap();  // form -> when it came on screen
  var locked = new WeakSet();  // forms submitted once: a second press must not land on the next task
  var handlers = [];

  // The shortcut a key press means. The character typed names it on layouts that type Latin letters and
  // digits; where the key types something else (AZERTY's digit row gives & é " ' without Shift, a
  // Devanagari layout gives its letters), the physical key names it, so no layout needs Shift.
  // Keys that type nothing name themselves: "enter", "backspace", "escape".
  function shortcut(event) {
    var key = (event.key || "").toLowerCase();
    if (/^[a-z0-9]$/.test(key)) return key;
    var code = /^(?:Digit|Numpad)([0-9])$|^Key([A-Z])$/.exec(event.code || "");
    return code ? (code[1] || code[2].toLowerCase()) : key;
  }

  function taskForms() { return document.querySelectorAll("form[data-task-form]"); }

  // The form of the task whose lease this page keeps: the one in #task.
  function form() { return document.querySelector("#task form[data-task-form]"); }

  function minViewMs(f) {
    var task = f.closest("[data-min-view-ms]");
    return task ? parseInt(task.getAttribute("data-min-view-ms") || "0", 10) || 0 : 0;
  }

  // The study's min_view_ms: the [data-hold] buttons wait until the task has been on screen that long (the
  // server refuses earlier answers anyway; this keeps a quick second press from landing on the next task).
  // On release they are enabled and the form hears "task:released", so a widget can keep its own rule
  // (a set's submit also waits for a best).
  function hold(f) {
    var wait = minViewMs(f);
    if (wait <= 0) return;
    var held = f.querySelectorAll("[data-hold]");
    f.setAttribute("data-holding", "");
    held.forEach(function (b) { b.disabled = true; });
    setTimeout(function () {
      f.removeAttribute("data-holding");
      if (!f.isConnected) return;
      held.forEach(function (b) { b.disabled = false; });
      f.dispatchEvent(new CustomEvent("task:released", { bubbles: true }));
    }, wait);
  }

  function holding(f) { return f.hasAttribute("data-holding"); }

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

  // Each task form newly on screen: its clock starts and its buttons wait out min_view_ms.
  function shown() {
    taskForms().forEach(function (f) {
      if (shownAt.has(f)) return;
      shownAt.set(f, performance.now());
      hold(f);
    });
    readLease();
    tick();
  }

  document.body.addEventListener("htmx:afterSwap", shown);
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    var f = elt && (elt.form || elt.closest("form"));
    if (f && !event.detail.successful) locked.delete(f);  // nothing was recorded: let them answer again
  });
  // Capture phase: runs before htmx reads the form, and for a plain (no-htmx) submit too.
  document.addEventListener("submit", function (event) {
    var f = event.target;
    if (!f.matches || !f.matches("form[data-task-form]")) return;
    if (locked.has(f)) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    locked.add(f);
    if (f.elements.time_taken_ms) f.elements.time_taken_ms.value = Math.round(performance.now() - (shownAt.get(f) || 0));
  }, true);

  // Shortcuts: each handler gets (key, event) and says whether the key was its own (the browser's default
  // is then prevented). A handler acts once per press: it ignores event.repeat (a held key).
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var typing = target && (target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
      (target.tagName === "INPUT" && target.type !== "radio" && target.type !== "checkbox"));
    if (typing) {
      if (event.key === "Escape") target.blur();
      return;
    }
    var key = shortcut(event);
    for (var i = 0; i < handlers.length; i++) {
      if (handlers[i](key, event)) {
        event.preventDefault();
        return;
      }
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

  shown();

  return {
    shortcut: shortcut,
    form: form,
    holding: holding,
    locked: function (f) { return locked.has(f); },
    onShortcut: function (handler) { handlers.push(handler); },
  };
})();
