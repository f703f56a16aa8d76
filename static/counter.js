// 兑换台 (templates/shop/counter.html): the − / + steppers beside each product's quantity, and the basket's running
// total with the household's balance after it, in the bar that holds 确认兑换. Without this script the quantities
// are typed and the server asks about the total before redeeming; with it the total is on screen all along, so the
// post says it is confirmed (the server still checks the balance, the stock and the key).
(function () {
  "use strict";

  var form = document.getElementById("basket-form");
  if (!form) {
    return;
  }
  var balance = parseInt(form.dataset.balance, 10) || 0;
  var inputs = Array.prototype.slice.call(form.querySelectorAll("input[type=number][data-price]"));
  var total = document.getElementById("basket-total");
  var after = document.getElementById("basket-after");
  var short = document.getElementById("basket-short");
  var sum = document.getElementById("basket-sum");

  function quantity(input) {
    var value = input.value.trim();
    return /^[0-9]{1,6}$/.test(value) ? parseInt(value, 10) : 0;
  }

  function limit(input) {
    return parseInt(input.max, 10) || 0;
  }

  function update() {
    var points = 0;
    inputs.forEach(function (input) {
      var n = quantity(input);
      points += n * (parseInt(input.dataset.price, 10) || 0);
      var line = input.closest(".basket-line");
      line.classList.toggle("chosen", n > 0);
      var steps = line.querySelectorAll("button.step");
      if (!input.disabled) {
        steps[0].disabled = n <= 0;
        steps[1].disabled = n >= limit(input);
      }
    });
    total.textContent = points;
    after.textContent = balance - points;
    short.hidden = points <= balance;
    sum.classList.toggle("short", points > balance);
  }

  function step(input, by) {
    var n = Math.min(Math.max(quantity(input) + by, 0), limit(input));
    input.value = n > 0 ? String(n) : "";
    update();
  }

  inputs.forEach(function (input) {
    var line = input.closest(".basket-line");
    line.querySelectorAll("button.step").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        step(input, parseInt(button.dataset.step, 10));
      });
    });
    input.addEventListener("input", update);
  });

  var confirmed = document.createElement("input");
  confirmed.type = "hidden";
  confirmed.name = "confirmed";
  confirmed.value = "1";
  form.appendChild(confirmed);
  form.classList.add("live");
  sum.hidden = false;
  update();
})();
