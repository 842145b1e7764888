// Keyboard shortcuts and time-on-task for the annotation page. The form works without this file.
(function () {
  "use strict";
  var shownAt = performance.now();
  var keys = { "1": "A", a: "A", "2": "B", b: "B", "3": "tie", t: "tie", "4": "both_bad", x: "both_bad" };

  function form() { return document.getElementById("judge-form"); }

  document.body.addEventListener("htmx:afterSwap", function () { shownAt = performance.now(); });
  // Capture phase: runs before htmx reads the form, and for a plain (no-htmx) submit too.
  document.addEventListener("submit", function (event) {
    if (event.target === form()) {
      event.target.elements.time_taken_ms.value = Math.round(performance.now() - shownAt);
    }
  }, true);

  document.addEventListener("keydown", function (event) {
    var f = form();
    if (!f || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    var key = event.key.toLowerCase();
    if (key === "s" || key === "c") {
      var radio = f.querySelector('input[name="strength"][value="' + (key === "s" ? "slightly" : "clearly") + '"]');
      radio.checked = !radio.checked;
      event.preventDefault();
    } else if (key === "r") {
      f.querySelector("textarea[name=rationale]").focus();
      event.preventDefault();
    } else if (keys[key]) {
      var button = f.querySelector('button[name="choice"][value="' + keys[key] + '"]');
      if (button && !button.disabled) button.click();
      event.preventDefault();
    }
  });
})();
