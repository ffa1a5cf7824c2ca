// Progressive enhancements; every page works without them.
"use strict";

// Forms marked data-confirm ask in a dialog, then send confirm=yes, so the
// server skips its own confirmation page. Delegated, so it also covers forms
// that htmx swaps in. Forms without it (bulk actions) get the server's page,
// which counts exactly what will change.
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

// Live refresh: every [data-live] region asks its own URL again (htmx swaps in
// the answer) at the interval chosen in the header, remembered per browser;
// 0 pauses. Skipped while the tab is hidden, and for a region where the
// operator has ticked rows or is typing, so a refresh never undoes their work.
const REFRESH_KEY = "dashboard-refresh-seconds";
let refreshTimer = null;

function refreshSeconds() {
  const stored = window.localStorage.getItem(REFRESH_KEY);
  return stored === null ? 2 : Number(stored);
}

function busy(region) {
  const active = document.activeElement;
  return region.querySelector("input[type=checkbox]:checked") !== null
    || (region.contains(active) && active.matches("input, select, textarea"));
}

function refreshLive() {
  if (document.visibilityState !== "visible" || !window.htmx) return;
  document.querySelectorAll("[data-live]").forEach((region) => {
    if (!busy(region)) window.htmx.trigger(region, "live-refresh");
  });
}

function startRefresh() {
  const seconds = refreshSeconds();
  const menu = document.getElementById("refresh");
  if (menu) menu.value = String(seconds);
  if (refreshTimer) window.clearInterval(refreshTimer);
  refreshTimer = seconds > 0 ? window.setInterval(refreshLive, seconds * 1000) : null;
  document.documentElement.dataset.refresh = String(seconds);
}

document.addEventListener("change", (event) => {
  if (event.target.id === "refresh") {
    window.localStorage.setItem(REFRESH_KEY, event.target.value);
    startRefresh();
  }
});
document.addEventListener("DOMContentLoaded", startRefresh);

// Bulk selection: a header checkbox ticks every row of its table; the bar says
// how many are ticked and enables "selected" only when some are.
function updateSelection(form) {
  const ticked = form.querySelectorAll('input[name="ids"]:checked').length;
  const counter = form.querySelector("[data-selected-count]");
  if (counter) counter.textContent = String(ticked);
  form.querySelectorAll('button[value="selected"]').forEach((b) => { b.disabled = ticked === 0; });
}

document.addEventListener("change", (event) => {
  const box = event.target;
  const form = box.closest && box.closest("form.bulk");
  if (!form) return;
  if (box.matches("[data-select-all]")) {
    form.querySelectorAll('input[name="ids"]').forEach((b) => { b.checked = box.checked; });
  }
  updateSelection(form);
});
document.addEventListener("htmx:afterSwap", () => document.querySelectorAll("form.bulk").forEach(updateSelection));
document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("form.bulk").forEach(updateSelection));

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
