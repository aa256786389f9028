// The plan review form: add and remove unit and target rows without a round trip.
// Without JavaScript the form still works: one blank row per list, clear a unit to remove it.
(function () {
  "use strict";
  var form = document.getElementById("review-form");
  if (!form) { return; }

  function clearRow(row) {
    row.querySelectorAll("input, textarea, select").forEach(function (field) {
      if (field.type === "hidden" && /-origin$/.test(field.name)) { field.value = ""; return; }
      if (field.type === "checkbox" || field.type === "radio") { field.checked = false; return; }
      if (field.tagName === "SELECT") { field.selectedIndex = 0; return; }
      field.value = "";
      field.classList.remove("unknown");
      field.removeAttribute("title");
    });
    row.querySelectorAll(".field-error").forEach(function (node) { node.remove(); });
    row.querySelectorAll("input[name$='-remove']").forEach(function (box) { box.closest("label").remove(); });
    row.classList.add("blank");
  }

  function nextTargetIndex(fieldset) {
    var highest = -1;
    fieldset.querySelectorAll("[name$='-text']").forEach(function (field) {
      var match = /-t(\d+)-text$/.exec(field.name);
      if (match) { highest = Math.max(highest, parseInt(match[1], 10)); }
    });
    return highest + 1;
  }

  form.querySelectorAll(".add-row, .remove-row").forEach(function (button) { button.hidden = false; });
  // A blank target row waits behind "+ 添加目标" unless it was filled in (a refused form).
  form.querySelectorAll(".target-row.blank").forEach(function (row) {
    var filled = Array.prototype.some.call(
      row.querySelectorAll("input:not([type=hidden]):not([type=checkbox]), textarea"),
      function (field) { return field.value.trim() !== ""; });
    if (!filled && !row.querySelector(".field-error")) { row.classList.add("folded"); }
  });

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) { return; }
    if (button.classList.contains("remove-row")) {
      var row = button.closest(".unit-row");
      var siblings = row.parentNode.querySelectorAll(".unit-row");
      if (siblings.length > 1) { row.remove(); } else { clearRow(row); }
      return;
    }
    if (!button.classList.contains("add-row")) { return; }
    var fieldset = button.closest("fieldset");
    var folded = fieldset.querySelector(".target-row.folded");
    if (folded) {
      folded.classList.remove("folded");
      folded.querySelector("textarea").focus();
      return;
    }
    var rows = fieldset.querySelectorAll(".unit-row, .target-row");
    var copy = rows[rows.length - 1].cloneNode(true);
    clearRow(copy);
    if (copy.classList.contains("target-row")) {
      var index = nextTargetIndex(fieldset);
      copy.querySelectorAll("[name], [id]").forEach(function (field) {
        ["name", "id"].forEach(function (attribute) {
          var value = field.getAttribute(attribute);
          if (value) { field.setAttribute(attribute, value.replace(/-t\d+-/, "-t" + index + "-")); }
        });
      });
    }
    fieldset.insertBefore(copy, button);
    var first = copy.querySelector("input:not([type=hidden]), textarea");
    if (first) { first.focus(); }
  });
})();
