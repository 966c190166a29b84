// The runs page: gather ticked runs for the comparison, and ticked columns for the table.
document.addEventListener("DOMContentLoaded", function () {
  var compare = document.getElementById("compare-form");
  if (compare) {
    compare.addEventListener("submit", function () {
      var picked = Array.from(document.querySelectorAll("input.pick:checked"));
      if (picked.length === 0) { picked = Array.from(document.querySelectorAll("input.pick")); }
      document.getElementById("compare-ids").value = picked.map(function (box) { return box.value; }).join(",");
    });
  }
  var filter = document.getElementById("runs-filter");
  if (filter) {
    filter.addEventListener("submit", function () {
      var boxes = Array.from(filter.querySelectorAll("input[name=col]"));
      var chosen = boxes.filter(function (box) { return box.checked; }).map(function (box) { return box.value; });
      document.getElementById("cols").value = chosen.join(",");
      boxes.forEach(function (box) { box.disabled = true; });
    });
  }
});
