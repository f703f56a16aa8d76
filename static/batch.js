// 批量记分 (templates/ledger/batch.html): a search over the household list (户号, name, address, 户籍 / 外来), 全选 of
// the households the search shows (those it hides keep their ticks), and the count of the chosen ones beside the
// button. Without this script the plain list of checkboxes posts as it always has.
(function () {
  "use strict";

  var fieldset = document.getElementById("households");
  if (!fieldset) {
    return;
  }
  var tools = fieldset.querySelector(".household-tools");
  var search = document.getElementById("household-search");
  var all = document.getElementById("household-all");
  var allLabel = document.getElementById("household-all-label");
  var none = document.getElementById("household-none");
  var count = document.getElementById("household-count");
  var rows = Array.prototype.slice.call(fieldset.querySelectorAll("label.household")).map(function (label) {
    return { label: label, box: label.querySelector("input"), text: label.textContent.replace(/\s+/g, " ").toLowerCase() };
  });

  // A masked name (李*明) matches what was typed of the full one (李四明): a * stands for any one character, as long
  // as one character of the window matches for real.
  function windowMatches(text, term) {
    for (var i = 0; i + term.length <= text.length; i++) {
      var real = false, j;
      for (j = 0; j < term.length; j++) {
        var c = text.charAt(i + j);
        if (c === term.charAt(j)) {
          real = true;
        } else if (c !== "*") {
          break;
        }
      }
      if (j === term.length && real) {
        return true;
      }
    }
    return false;
  }

  function matches(row, terms) {
    return terms.every(function (term) {
      return row.text.indexOf(term) >= 0 || windowMatches(row.text, term);
    });
  }

  function shown() {
    return rows.filter(function (row) { return !row.label.hidden; });
  }

  function update() {
    var visible = shown();
    var ticked = visible.filter(function (row) { return row.box.checked; }).length;
    all.checked = visible.length > 0 && ticked === visible.length;
    all.indeterminate = ticked > 0 && ticked < visible.length;
    all.disabled = visible.length === 0;
    allLabel.textContent = visible.length === rows.length ? allLabel.dataset.all
      : allLabel.dataset.some.replace("#", visible.length);
    none.hidden = visible.length > 0;
    var chosen = rows.filter(function (row) { return row.box.checked; }).length;
    count.textContent = count.dataset.template.replace("#", chosen);
    count.classList.toggle("none", chosen === 0);
  }

  function filter() {
    var terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    rows.forEach(function (row) {
      row.label.hidden = !matches(row, terms);
    });
    update();
  }

  all.addEventListener("change", function () {
    var on = all.checked;
    shown().forEach(function (row) { row.box.checked = on; });
    update();
  });
  search.addEventListener("input", filter);
  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault(); // Enter in the search box searches; it does not award the batch
    }
  });
  rows.forEach(function (row) { row.box.addEventListener("change", update); });

  tools.hidden = false;
  count.hidden = false;
  filter();
})();
