// Small enhancements; every page works without them.
"use strict";

document.documentElement.classList.add("js");

// Copy buttons: <button class="copy-button" data-copy-target="element-id"
// data-copied-label="Copied">; the page gives the label in its language.
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
  button.setAttribute("aria-label", button.dataset.copiedLabel || "Copied");
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

// Confirmation dialogs (the confirm_dialog tag) open and close through the browser's invoker
// commands (`commandfor`); this does the same where a browser lacks them.
if (!("commandForElement" in HTMLButtonElement.prototype)) {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[commandfor]");
    const dialog = button && document.getElementById(button.getAttribute("commandfor"));
    if (!(dialog instanceof HTMLDialogElement)) return;
    if (button.getAttribute("command") === "show-modal") dialog.showModal();
    if (button.getAttribute("command") === "close") dialog.close();
  });
}
// Tab and Shift+Tab go round the dialog's own controls (a modal keeps the page behind inert,
// but would let focus leave for the browser's own controls).
document.addEventListener("keydown", (event) => {
  const dialog = event.target.closest?.("dialog[open]");
  if (event.key !== "Tab" || !dialog) return;
  const controls = [...dialog.querySelectorAll("button, input, select, textarea, a[href]")]
    .filter((control) => !control.disabled && control.type !== "hidden");
  const first = controls[0];
  const last = controls[controls.length - 1];
  if (event.shiftKey && event.target === first) {
    last.focus();
    event.preventDefault();
  } else if (!event.shiftKey && event.target === last) {
    first.focus();
    event.preventDefault();
  }
});
// A dialog whose form came back with errors is rendered open: make it modal again.
// Its first field with an error (else its first field) takes the focus.
document.querySelectorAll("dialog[data-open-modal]").forEach((dialog) => {
  dialog.close();
  dialog.showModal();
  const field = dialog.querySelector("[aria-invalid='true'], input:not([type=hidden])");
  field?.focus();
});
// A closed dialog gives the focus back to the button that opens it (also when a script, not
// the button, opened it).
document.querySelectorAll("dialog.confirm-dialog").forEach((dialog) => {
  dialog.addEventListener("close", () => {
    const active = document.activeElement;
    if (active && active !== document.body && !dialog.contains(active)) return;
    document.querySelector(`button[commandfor="${dialog.id}"][command="show-modal"]`)?.focus();
  });
});

// Small screens: the sidebar folds under its name; the Menu button unfolds it.
const narrow = window.matchMedia("(max-width: 700px)");
document.querySelectorAll(".sidebar").forEach((sidebar) => {
  const toggle = sidebar.querySelector(".sidebar-toggle");
  if (!toggle) return;
  const fold = (folded) => {
    sidebar.toggleAttribute("data-collapsed", folded);
    toggle.setAttribute("aria-expanded", String(!folded));
  };
  fold(narrow.matches);
  narrow.addEventListener("change", () => fold(narrow.matches));
  toggle.addEventListener("click", () => fold(!sidebar.hasAttribute("data-collapsed")));
});

// A paste longer than a field allows is cut by the browser without a word: say so, in the
// words the page gives (includes/field.html: data-paste-cut on the field's box, in its language).
document.addEventListener("paste", (event) => {
  const field = event.target;
  if (!(field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement)) return;
  const limit = field.maxLength;
  if (limit < 0) return;
  const pasted = event.clipboardData?.getData("text") ?? "";
  const room = limit - field.value.length + (field.selectionEnd - field.selectionStart);
  if (pasted.length <= room) return;
  let note = document.getElementById(`${field.id}-cut`);
  if (!note) {
    note = document.createElement("span");
    note.id = `${field.id}-cut`;
    note.className = "helptext paste-cut";
    note.setAttribute("role", "status");
    field.after(note);
  }
  note.textContent = field.closest("[data-paste-cut]")?.dataset.pasteCut
    ?? `The pasted text was cut to fit: at most ${limit} characters.`;
});
