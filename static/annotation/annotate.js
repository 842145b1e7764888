// The pair's keyboard shortcuts; time on task, the min_view_ms hold and the lease are task.js's.
(function () {
  "use strict";
  var task = window.pluralwebTask;
  var keys = { "1": "A", a: "A", "2": "B", b: "B", "3": "tie", t: "tie", "4": "both_bad", x: "both_bad" };

  task.onShortcut(function (key, event) {
    var f = document.getElementById("judge-form");
    if (!f || !(keys[key] || key === "s" || key === "c" || key === "r")) return false;
    if (event.repeat) return true;  // a held key: one press, one action
    if (key === "s" || key === "c") {
      var radio = f.querySelector('input[name="strength"][value="' + (key === "s" ? "slightly" : "clearly") + '"]');
      radio.checked = !radio.checked;
    } else if (key === "r") {
      f.querySelector("textarea[name=rationale]").focus();
    } else {
      var button = f.querySelector('button[name="choice"][value="' + keys[key] + '"]');
      if (button && !button.disabled && !task.locked(f)) button.click();
    }
    return true;
  });
})();
