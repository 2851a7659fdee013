// Modal dialogs on <dialog>: the browser traps focus and Escape closes them.
import { h } from "./dom";

export interface PromptOptions {
  title: string;
  message?: string;
  error?: string;
  label: string;
  type?: "text" | "password";
  confirm: string;
  cancel?: string;
  value?: string;
  allowEmpty?: boolean;
  /** The confirm button does something that cannot be undone: it looks dangerous (btn-danger). */
  danger?: boolean;
  id?: string;
}

/** Asks for one value; resolves with it, or null when cancelled. */
export function prompt(o: PromptOptions): Promise<string | null> {
  return new Promise((resolve) => {
    const input = h("input", {
      class: "field-input",
      attrs: { type: o.type ?? "text", id: "dialog-input", autocomplete: o.type === "password" ? "off" : "on", required: !o.allowEmpty },
    });
    input.value = o.value ?? "";
    const dialog = h("dialog", { class: "dialog", attrs: { "aria-labelledby": "dialog-title", id: o.id } });
    const form = h(
      "form",
      { attrs: { method: "dialog" } },
      h("h2", { attrs: { id: "dialog-title" }, text: o.title }),
      o.message ? h("p", { class: "muted", text: o.message }) : null,
      o.error ? h("p", { class: "form-error", attrs: { role: "alert" }, text: o.error }) : null,
      h("label", { class: "field-label", attrs: { for: "dialog-input" }, text: o.label }),
      input,
      h(
        "div",
        { class: "dialog-actions" },
        o.cancel ? h("button", { class: "btn btn-ghost", attrs: { type: "button", value: "cancel" }, text: o.cancel, on: { click: () => finish(null) } }) : null,
        h("button", { class: `btn ${o.danger ? "btn-danger" : "btn-primary"}`, attrs: { type: "submit" }, text: o.confirm }),
      ),
    );
    let done = false;
    const finish = (v: string | null) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(v);
    };
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!o.allowEmpty && !input.value) return;
      finish(input.value);
    });
    dialog.addEventListener("cancel", (ev) => {
      if (!o.cancel) ev.preventDefault();
      else finish(null);
    });
    dialog.append(form);
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

export interface ConfirmOptions {
  title: string;
  message: string;
  confirm: string;
  cancel: string;
  danger?: boolean;
  id?: string;
}

/** Asks yes or no; resolves true when confirmed. Escape and the cancel button say no. */
export function confirm(o: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog", attrs: { "aria-labelledby": "dialog-title", id: o.id } });
    let done = false;
    const finish = (v: boolean) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(v);
    };
    const cancel = h("button", { class: "btn btn-ghost", attrs: { type: "button", id: "dialog-cancel" }, text: o.cancel, on: { click: () => finish(false) } });
    dialog.append(
      h("h2", { attrs: { id: "dialog-title" }, text: o.title }),
      h("p", { class: "muted", text: o.message }),
      h(
        "div",
        { class: "dialog-actions" },
        cancel,
        h("button", { class: `btn ${o.danger ? "btn-danger" : "btn-primary"}`, attrs: { type: "button", id: "dialog-confirm" }, text: o.confirm, on: { click: () => finish(true) } }),
      ),
    );
    dialog.addEventListener("cancel", () => finish(false));
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
