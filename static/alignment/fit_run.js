// Draws the loss curve of a fit run after each htmx refresh.
(function () {
  "use strict";
  function draw() {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (source && window.Plotly) {
        var figure = JSON.parse(source.textContent);
        window.Plotly.react(el, figure.data, figure.layout, { displayModeBar: false, responsive: true });
      }
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  window.addEventListener("load", draw);
  document.body.addEventListener("htmx:afterSwap", draw);
})();
