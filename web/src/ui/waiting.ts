// The secure domain's waiting screen (protocol/jitsi-dialect.md §3.3): the
// focus answered not-authorized because nobody signed in has started this
// meeting yet. The conference asks again by itself (access.ts,
// hostWaitDelay) and joins as soon as the host is there; this screen only
// says so, counts down to the next check and offers a way out, and "I am
// the host": sign in with an account and start the meeting.
import { clear, h } from "./dom";
import { t } from "../i18n";

export interface WaitingScreen {
  /** The next check is in `ms`. */
  update(ms: number): void;
  remove(): void;
}

export function showWaitingHost(root: HTMLElement, room: string, on: { leave: () => void; signIn: (username: string, password: string) => Promise<void> }): WaitingScreen {
  clear(root);
  document.title = t("waiting.pageTitle", { room });
  const next = h("p", { class: "muted small", attrs: { id: "waiting-next", "aria-live": "off" } });
  const leave = h("button", { class: "btn btn-ghost", attrs: { type: "button", id: "waiting-leave" }, text: t("common.leave"), on: { click: on.leave } });
  const host = h("button", { class: "btn btn-link", attrs: { type: "button", id: "host-login" }, text: t("waiting.host"), on: { click: () => signInDialog(on.signIn) } });
  root.append(
    h(
      "main",
      { class: "notice waiting", attrs: { id: "waiting-host", "aria-busy": "true" } },
      h("div", { class: "spinner", attrs: { "aria-hidden": "true" } }),
      h("h1", { text: t("waiting.title") }),
      h("p", { class: "waiting-room", text: room }),
      h("p", { class: "muted", attrs: { role: "status" }, text: t("waiting.text") }),
      next,
      h("div", { class: "notice-actions" }, leave),
      host,
    ),
  );
  let timer: ReturnType<typeof setInterval> | undefined;
  return {
    update(ms: number) {
      clearInterval(timer);
      let left = Math.ceil(ms / 1000);
      const show = () => (next.textContent = left > 0 ? t("waiting.checkingIn", { seconds: left }) : t("waiting.checking"));
      show();
      timer = setInterval(() => {
        left--;
        show();
        if (left <= 0) clearInterval(timer);
      }, 1000);
    },
    remove() {
      clearInterval(timer);
    },
  };
}

/** Asks for an account's name and password; stays open with the server's reason until signIn resolves, or is cancelled. */
function signInDialog(signIn: (username: string, password: string) => Promise<void>): void {
  const user = h("input", { class: "field-input", attrs: { id: "login-user", type: "text", autocomplete: "username", required: true, maxlength: "1023" } });
  const pass = h("input", { class: "field-input", attrs: { id: "login-password", type: "password", autocomplete: "current-password", required: true } });
  const error = h("p", { class: "form-error", attrs: { role: "alert", id: "login-error" } });
  error.hidden = true;
  const submit = h("button", { class: "btn btn-primary", attrs: { type: "submit" }, text: t("waiting.signIn") });
  const dialog = h("dialog", { class: "dialog", attrs: { "aria-labelledby": "login-title", id: "login-dialog" } });
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  const form = h(
    "form",
    {},
    h("h2", { attrs: { id: "login-title" }, text: t("waiting.signInTitle") }),
    h("p", { class: "muted", text: t("waiting.signInText") }),
    error,
    h("label", { class: "field-label", attrs: { for: "login-user" }, text: t("waiting.user") }),
    user,
    h("label", { class: "field-label", attrs: { for: "login-password" }, text: t("common.password") }),
    pass,
    h("div", { class: "dialog-actions" }, h("button", { class: "btn btn-ghost", attrs: { type: "button" }, text: t("common.cancel"), on: { click: close } }), submit),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!user.value.trim() || !pass.value) return;
    submit.disabled = true;
    error.hidden = true;
    try {
      await signIn(user.value.trim(), pass.value);
      close();
    } catch (err) {
      error.textContent = (err as Error).message;
      error.hidden = false;
      pass.value = "";
      pass.focus();
    } finally {
      submit.disabled = false;
    }
  });
  dialog.addEventListener("cancel", close);
  dialog.append(form);
  document.body.append(dialog);
  dialog.showModal();
  user.focus();
}
