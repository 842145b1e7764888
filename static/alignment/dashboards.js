// Draws each figure the page embeds with json_script; the numbers behind them are in the page's downloads.
(function () {
  "use strict";
  if (!window.Plotly) return;
  document.querySelectorAll("[data-figure]").forEach(function (element) {
    var source = document.getElementById(element.dataset.figure);
    if (!source) return;
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false });
  });
})();
