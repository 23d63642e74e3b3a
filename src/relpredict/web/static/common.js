// Shared helpers of the pages: JSON calls to the API and field errors shown next to their fields.
"use strict";

/** POST or GET JSON; resolves to {status, body} whatever the status (errors carry messages). */
async function api(method, url, body) {
  const init = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  let data = null;
  try { data = await response.json(); } catch (e) { data = { detail: response.statusText, errors: {} }; }
  return { status: response.status, body: data };
}

/** Remove every message shown by showErrors in `root`. */
function clearErrors(root) {
  root.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
  root.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

/** Show each field's message in its #error-<field> slot (dots become dashes); the rest in #error-_. */
function showErrors(root, errors, detail) {
  const general = root.querySelector("#error-_");
  let shown = false;
  for (const [key, message] of Object.entries(errors || {})) {
    const slot = root.querySelector("#error-" + CSS.escape(key.replace(/\./g, "-")));
    const target = slot || general;
    if (!target) continue;
    target.textContent = target.textContent ? target.textContent + " " + message : message;
    const input = slot && slot.parentElement.querySelector("input, select");
    if (input) input.setAttribute("aria-invalid", "true");
    shown = true;
  }
  if (!shown && general) general.textContent = detail || "Something went wrong.";
}

/** A number for the API, or the text itself when it is not one (the API then names the field). */
function numberOrText(value) {
  const text = (value || "").trim();
  if (text === "") return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}
