// The set widget (templates/annotation/_set_widget.html): the best response, then the others in order.
// Its radios ("best") and selects ("place") hold the answer, so the form works without this file; this adds
// the keys (digits 1..n: the best, then the others next best first; Backspace: undo; Enter: submit;
// R: explanation), the order summary, and keeps submit off until a best is picked. Needs task.js.
(function () {
  "use strict";
  var task = window.pluralwebTask;

  // The widget the keys act on: the last one on the page (a conversation shows its earlier turns as text).
  function active() {
    var all = document.querySelectorAll(".set-widget");
    return all.length ? all[all.length - 1] : null;
  }

  function cards(w) { return Array.prototype.slice.call(w.querySelectorAll(".set-card")); }
  function select(card) { return card.querySelector('select[name="place"]'); }
  function radio(card) { return card.querySelector('input[name="best"]'); }
  function placeOf(card) { return parseInt(select(card).value, 10) || 0; }
  function bestCard(w) { return cards(w).filter(function (c) { return radio(c).checked; })[0] || null; }
  function lastPlace(w) { return cards(w).reduce(function (top, c) { return Math.max(top, placeOf(c)); }, 1); }

  function setPlace(card, place) {
    select(card).value = place ? place + ":" + card.getAttribute("data-candidate") : "";
  }

  // "3 › 1 = 4 › 2": the numbers of the responses, best first, equal places joined by "=".
  function orderText(w) {
    var best = bestCard(w);
    var summary = w.querySelector(".set-order");
    if (!best) return summary.getAttribute("data-empty");
    var byPlace = {};
    cards(w).forEach(function (c) {
      var place = placeOf(c);
      if (place && c !== best) (byPlace[place] = byPlace[place] || []).push(c.getAttribute("data-number"));
    });
    var steps = [best.getAttribute("data-number")];
    Object.keys(byPlace).map(Number).sort(function (a, b) { return a - b; }).forEach(function (place) {
      steps.push(byPlace[place].join(" = "));
    });
    return summary.getAttribute("data-label") + " " + steps.join(" › ");
  }

  function refresh(w) {
    var best = bestCard(w), f = w.closest("form");
    cards(w).forEach(function (c) {
      var isBest = c === best;
      if (isBest) setPlace(c, 0);
      select(c).disabled = isBest;  // the best has no place among the others (and is not posted as one)
      c.classList.toggle("is-best", isBest);
      var place = placeOf(c);
      if (place) c.setAttribute("data-place", place); else c.removeAttribute("data-place");
    });
    w.querySelector(".set-order").textContent = orderText(w);
    var submit = w.querySelector(".set-submit");
    submit.disabled = !best || (f && (task.holding(f) || task.locked(f)));
    var undo = w.querySelector(".set-undo");
    undo.hidden = false;
    undo.disabled = !best;
  }

  // A digit or a pointer's pick: the best first, then each other response gets the next place.
  function pick(w, number) {
    var card = cards(w)[number - 1], best = bestCard(w);
    if (!card) return;
    if (!best) radio(card).checked = true;
    else if (card !== best && !placeOf(card)) setPlace(card, lastPlace(w) + 1);
    refresh(w);
  }

  // Takes back the last step: the lowest place given (the last in order among equals), else the best.
  function undo(w) {
    var ranked = cards(w).filter(placeOf);
    if (ranked.length) {
      var lowest = ranked.reduce(function (low, c) { return placeOf(c) >= placeOf(low) ? c : low; });
      setPlace(lowest, 0);
    } else {
      var best = bestCard(w);
      if (best) radio(best).checked = false;
    }
    refresh(w);
  }

  task.onShortcut(function (key, event) {
    var w = active();
    if (!w) return false;
    var f = w.closest("form");
    var onControl = event.target && (event.target.tagName === "BUTTON" || event.target.tagName === "A");
    if (/^[1-9]$/.test(key) && Number(key) <= cards(w).length) {
      if (!event.repeat && !(f && task.locked(f))) pick(w, Number(key));
      return true;
    }
    if (key === "backspace") {
      if (!event.repeat) undo(w);
      return true;
    }
    if (key === "enter" && !onControl) {  // on a focused button, Enter presses that button
      var submit = w.querySelector(".set-submit");
      if (!event.repeat && !submit.disabled) submit.click();
      return true;
    }
    if (key === "r") {
      w.querySelector('textarea[name="explanation"]').focus();
      return true;
    }
    return false;
  });

  document.addEventListener("change", function (event) {
    var w = event.target.closest && event.target.closest(".set-widget");
    if (w) refresh(w);
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".set-undo");
    if (button) undo(button.closest(".set-widget"));
  });
  document.addEventListener("task:released", function (event) {
    var w = event.target.querySelector && event.target.querySelector(".set-widget");
    if (w) refresh(w);
  });

  function refreshAll() { document.querySelectorAll(".set-widget").forEach(refresh); }
  document.body.addEventListener("htmx:afterSwap", refreshAll);
  document.body.addEventListener("htmx:afterRequest", refreshAll);  // a refused submit: the form is theirs again
  refreshAll();
})();
