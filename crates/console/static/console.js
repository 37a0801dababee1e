// Ward console: progressive enhancements only; every page works without this file.
// Keyboard shortcuts on lists: "/" focuses the first filter field, "j"/"k" move between rows'
// links. Filter selects submit their form when changed.
(function () {
  "use strict";
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    if (e.key === "/") {
      var f = document.querySelector("form.filters input, form.filters select");
      if (f) { e.preventDefault(); f.focus(); }
    } else if (e.key === "j" || e.key === "k") {
      var links = Array.prototype.slice.call(document.querySelectorAll("table.list tbody tr td a:first-of-type"));
      if (!links.length) return;
      var i = links.indexOf(document.activeElement);
      i = e.key === "j" ? Math.min(links.length - 1, i + 1) : Math.max(0, i - 1);
      links[i].focus();
    }
  });
  Array.prototype.forEach.call(document.querySelectorAll("form.filters select"), function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
})();
