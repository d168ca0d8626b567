// modelver UI: the only script. Filters a table as you type into an <input data-filter="selector of rows">.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[data-filter]")) {
    const rows = () => document.querySelectorAll(input.dataset.filter);
    input.addEventListener("input", () => {
      const needle = input.value.trim().toLowerCase();
      for (const row of rows()) {
        row.hidden = needle !== "" && !row.textContent.toLowerCase().includes(needle);
      }
    });
  }
});
