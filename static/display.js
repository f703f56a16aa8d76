// The village TV: on a wide screen, show one slide at a time and move on every 12 seconds (the page itself
// reloads every 5 minutes for fresh figures). On a phone every slide stays on the page, one under another.
(function () {
  var SECONDS = 12;
  var wide = window.matchMedia("(min-width: 900px) and (min-aspect-ratio: 4/3)");
  var slides = Array.prototype.slice.call(document.querySelectorAll(".slide"));
  var foot = document.querySelector(".tv-foot");
  var dots = document.createElement("span");
  dots.className = "tv-dots";
  dots.setAttribute("aria-hidden", "true");
  slides.forEach(function () { dots.appendChild(document.createElement("i")); });
  foot.appendChild(dots);
  var current = 0;
  function show(index) {
    current = index % slides.length;
    slides.forEach(function (slide, i) { slide.classList.toggle("on", i === current); });
    Array.prototype.forEach.call(dots.children, function (dot, i) { dot.classList.toggle("on", i === current); });
  }
  function layout() { document.body.classList.toggle("cycling", wide.matches && slides.length > 1); }
  layout();
  if (wide.addEventListener) { wide.addEventListener("change", layout); }
  show(0);
  setInterval(function () { if (document.body.classList.contains("cycling")) { show(current + 1); } }, SECONDS * 1000);
})();
