// Small enhancements; every page works without them.
"use strict";

// Copy buttons: <button class="copy-button" data-copy-target="element-id">.
document.addEventListener("click", async (event) => {
  const button = event.target.closest(".copy-button");
  if (!button) return;
  const target = document.getElementById(button.dataset.copyTarget);
  if (!target) return;
  const text = "value" in target ? target.value : target.textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    target.select?.();
    document.execCommand("copy");
  }
  button.dataset.copied = "";
  button.setAttribute("aria-label", "Copied");
  setTimeout(() => delete button.dataset.copied, 2000);
});

// Fill a path field from a name field until the user edits the path themselves.
document.querySelectorAll("[data-slug-from]").forEach((pathInput) => {
  const nameInput = document.getElementById(pathInput.dataset.slugFrom);
  if (!nameInput) return;
  let edited = pathInput.value !== "";
  pathInput.addEventListener("input", () => { edited = true; });
  nameInput.addEventListener("input", () => {
    if (edited) return;
    pathInput.value = nameInput.value.trim().toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, "-").replace(/^[^a-z0-9]+/, "").replace(/-+$/, "");
  });
});

// Open the expandable settings section a link points at (e.g. ...#deploy-tokens).
function openSectionFromHash() {
  const section = location.hash && document.getElementById(location.hash.slice(1));
  if (section && section.tagName === "DETAILS") section.open = true;
}
openSectionFromHash();
window.addEventListener("hashchange", openSectionFromHash);

// A page that shows a new token once answers a form's POST (to the page or to a create or
// rotate URL). Make its history entry the plain page's: Reload and Back then fetch that page
// (without the token) instead of offering to resubmit the form (Chrome's "Confirm Form
// Resubmission" / ERR_CACHE_MISS).
const shownOnce = document.querySelector("[data-shown-once]");
if (shownOnce) {
  history.replaceState(null, "", shownOnce.dataset.shownOnce || location.href);
}

// The members page's username: offer the users whose username or name starts with what is
// typed (a <datalist> the browser shows under the field).
document.querySelectorAll("input[data-user-search]").forEach((input) => {
  const list = document.createElement("datalist");
  list.id = input.getAttribute("list");
  input.after(list);
  let timer;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const text = input.value.trim();
    if (!text) return;
    timer = setTimeout(async () => {
      const url = `${input.dataset.userSearch}?search=${encodeURIComponent(text)}`;
      const answer = await fetch(url, { credentials: "same-origin" });
      if (!answer.ok) return;
      const users = await answer.json();
      list.replaceChildren(...users.map((user) => {
        const option = document.createElement("option");
        option.value = user.username;
        option.label = user.name ? `${user.name} (@${user.username})` : `@${user.username}`;
        return option;
      }));
    }, 150);
  });
});
