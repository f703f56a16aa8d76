// The 卫生评比 score sheet (templates/hygiene/sheet.html): the save bar shows the points deducted so far and the one
// button that fits them, 无扣分 while nothing is deducted and 保存 once something is. Without this script both
// buttons show and the form posts the same.
(function () {
  "use strict";

  var form = document.querySelector("form.sheet-form");
  if (!form) {
    return;
  }
  var total = form.querySelector(".sheet-total");
  var save = form.querySelector(".save-bar button.save");
  var clean = form.querySelector(".save-bar button.clean");

  function update() {
    var sum = 0;
    form.querySelectorAll(".chips input:checked").forEach(function (input) {
      sum += parseInt(input.value, 10) || 0;
    });
    total.textContent = sum ? total.dataset.some.replace("#", sum) : total.dataset.none;
    total.classList.toggle("deducted", sum > 0);
    total.hidden = false;
    save.hidden = sum === 0;
    clean.hidden = sum > 0;
  }

  form.addEventListener("change", update);
  update();
})();
