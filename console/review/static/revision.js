// Keyboard for the review page: 1–9 suggestions, a/p/n immediacy, s person, t text,
// / search, Enter save, d discard. Letters typed into a text field are left alone.
(function () {
  "use strict";
  var form = document.getElementById("etiquetar");
  if (!form) {
    var start = document.getElementById("empezar");
    if (start) {
      document.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && !e.target.matches("input, textarea")) { start.click(); }
      });
    }
    return;
  }
  var filter = document.getElementById("filtro");
  var all = document.getElementById("todas");

  function typing(target) {
    return target.matches("input[type=text], input[type=search], textarea");
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (e.key === "Escape") { document.activeElement.blur(); return; }
    if (typing(e.target)) {
      if (e.key === "Enter" && e.target === filter) {
        e.preventDefault();
        var first = all.querySelector("label.opcion:not([hidden]) input");
        if (first) { first.checked = true; first.focus(); }
      }
      return;
    }
    var key = e.key.toLowerCase();
    var pick = form.querySelector('.sugerencias input[data-tecla="' + key + '"]') ||
      form.querySelector('input[name=inmediatez][data-tecla="' + key + '"]');
    if (pick) { e.preventDefault(); pick.checked = true; return; }
    if (key === "s") { e.preventDefault(); var p = document.getElementById("pide_persona"); p.checked = !p.checked; return; }
    if (key === "t") { e.preventDefault(); document.getElementById("texto").focus(); return; }
    if (key === "/") { e.preventDefault(); all.open = true; filter.focus(); return; }
    if (key === "d") { e.preventDefault(); document.getElementById("descartar").submit(); return; }
    if (e.key === "Enter" && !e.target.matches("button, a, summary")) { e.preventDefault(); form.requestSubmit(); }
  });

  if (filter) {
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().trim();
      all.querySelectorAll("label.opcion").forEach(function (label) {
        label.hidden = words !== "" && label.dataset.buscar.indexOf(words) === -1;
      });
    });
  }
})();
