// Progressive enhancements; every page works without them.
"use strict";

// Forms marked data-confirm ask in a dialog, then send confirm=yes, so the
// server skips its own confirmation page. Delegated, so it also covers forms
// that htmx swaps in.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset && form.dataset.confirm;
  if (!question) return;
  if (!window.confirm(question)) {
    event.preventDefault();
    return;
  }
  if (!form.querySelector('input[name="confirm"]')) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = "confirm";
    input.value = "yes";
    form.appendChild(input);
  }
});

// Create-task tabs switch in place, keeping what was typed. The Advanced
// fieldset is disabled on the Basic tab, so its fields are not sent.
document.addEventListener("click", (event) => {
  const tab = event.target.closest("[data-tab]");
  if (!tab) return;
  event.preventDefault();
  const name = tab.dataset.tab;
  document.querySelectorAll("[data-tab]").forEach((t) => t.setAttribute("aria-selected", String(t === tab)));
  const panel = document.querySelector('[data-panel="advanced"]');
  const advanced = name === "advanced";
  panel.hidden = !advanced;
  panel.disabled = !advanced;
  const field = document.querySelector('input[name="tab"]');
  if (field) field.value = name;
  history.replaceState(null, "", "?tab=" + name);
});
