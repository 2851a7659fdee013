// End-to-end encryption on the meeting screen: the top bar's badge
// ("End-to-end encrypted", ", verified by passphrase" with a #k= link),
// the security code on click, a warning when the keys do not match or the
// leader's key list is wrong, a clear message when this browser cannot
// encrypt, and the moderators' switch in the moderation menu. It hooks
// into the meeting from outside (main.ts) and keeps to its own elements.
import type { E2EE } from "../e2ee/controller";
import { h, icon } from "./dom";
import { addModerationItems } from "./moderation";
import { toast } from "./toast";

// User-visible strings (for the translation catalogues).
const S = {
  badge: "End-to-end encrypted",
  badgePassphrase: "End-to-end encrypted, verified by passphrase",
  badgeTitle: "Only the participants can see and hear this meeting. Select to show the security code.",
  codeTitle: "Security code",
  codeHelp: "Everyone in the meeting sees the same code. Read it aloud: if someone's differs, someone may be listening in.",
  codeHelpPassphrase: "Everyone who joined with the same passphrase sees the same code.",
  codeWaiting: "The keys are being exchanged…",
  close: "Close",
  mismatch: "The keys do not match: nothing from the others can be decrypted. Check the passphrase in your link.",
  unsupported: "This meeting is end-to-end encrypted, and this browser cannot encrypt. Use a current Chrome, Edge, Firefox or Safari.",
  turnOn: "Turn on end-to-end encryption",
  turnOff: "Turn off end-to-end encryption",
  turnedOn: "End-to-end encryption is on",
  turnedOff: "End-to-end encryption is off",
} as const;

/** Shows the security code in a dialog. */
function showCode(e2ee: E2EE): void {
  const code = e2ee.code;
  const dialog = h("dialog", { class: "dialog", attrs: { id: "e2ee-code-dialog", "aria-labelledby": "e2ee-code-title" } });
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  dialog.append(
    h("h2", { attrs: { id: "e2ee-code-title" }, text: S.codeTitle }),
    h("p", { class: "e2ee-code", attrs: { id: "e2ee-code" }, text: code ? code.join(" ") : S.codeWaiting }),
    h("p", { class: "muted", text: e2ee.verifiedByPassphrase ? `${S.codeHelp} ${S.codeHelpPassphrase}` : S.codeHelp }),
    h("div", { class: "dialog-actions" }, h("button", { class: "btn btn-primary", attrs: { type: "button", id: "e2ee-code-close" }, text: S.close, on: { click: close } })),
  );
  dialog.addEventListener("cancel", close);
  document.body.append(dialog);
  dialog.showModal();
}

/** Mounts the E2EE parts on the meeting screen under `root`; returns their teardown. */
export function mountE2EE(root: HTMLElement, e2ee: E2EE, focus: string): () => void {
  const label = h("span");
  const badge = h("button", { class: "badge badge-e2ee", attrs: { type: "button", id: "e2ee-state", title: S.badgeTitle, hidden: true }, on: { click: () => showCode(e2ee) } }, icon("shield"), label);
  const alert = h("div", { class: "banner banner-e2ee", attrs: { id: "e2ee-alert", role: "alert", hidden: true } });
  const bar = root.querySelector("header.topbar");
  const spacer = bar?.querySelector(".spacer");
  if (bar && spacer) bar.insertBefore(badge, spacer);
  else root.prepend(badge);
  (bar ?? root).after(alert);

  const render = () => {
    const on = e2ee.enabled;
    badge.hidden = !on || !e2ee.keys;
    label.textContent = e2ee.verifiedByPassphrase ? S.badgePassphrase : S.badge;
    let warning = "";
    if (e2ee.refused || (on && !e2ee.keys)) warning = e2ee.refused || `${S.unsupported} (${e2ee.unsupported})`;
    else if (on && e2ee.agent?.alarm) warning = e2ee.agent.alarm;
    else if (on && e2ee.mismatch) warning = S.mismatch;
    alert.hidden = warning === "";
    alert.textContent = warning;
  };
  const off = [
    e2ee.on("change", render),
    addModerationItems(() =>
      e2ee.keys
        ? [
            {
              label: e2ee.enabled ? S.turnOff : S.turnOn,
              action: "e2ee",
              run: async () => {
                const want = !e2ee.enabled;
                try {
                  await e2ee.setEnabled(want, focus);
                  toast(want ? S.turnedOn : S.turnedOff);
                } catch (err) {
                  toast((err as Error).message, "error", 8000);
                }
              },
            },
          ]
        : [],
    ),
  ];
  render();
  return () => {
    for (const f of off) f();
    badge.remove();
    alert.remove();
  };
}
