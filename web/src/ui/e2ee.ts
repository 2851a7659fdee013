// End-to-end encryption on the meeting screen: the top bar's badge
// ("End-to-end encrypted", ", verified by passphrase" with a #k= link),
// the security code on click, a warning when the keys do not match or the
// leader's key list is wrong, a clear message when this browser cannot
// encrypt, and the moderators' switch in the moderation menu. It hooks
// into the meeting from outside (main.ts) and keeps to its own elements.
import type { E2EE } from "../e2ee/controller";
import { t } from "../i18n";
import { h, icon } from "./dom";
import { addModerationItems } from "./moderation";
import { toast } from "./toast";

/** Shows the security code in a dialog. */
function showCode(e2ee: E2EE): void {
  const code = e2ee.code;
  const dialog = h("dialog", { class: "dialog", attrs: { id: "e2ee-code-dialog", "aria-labelledby": "e2ee-code-title" } });
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  dialog.append(
    h("h2", { attrs: { id: "e2ee-code-title" }, text: t("e2ee.codeTitle") }),
    h("p", { class: "e2ee-code", attrs: { id: "e2ee-code" }, text: code ? code.join(" ") : t("e2ee.codeWaiting") }),
    h("p", { class: "muted", text: e2ee.verifiedByPassphrase ? `${t("e2ee.codeHelp")} ${t("e2ee.codeHelpPassphrase")}` : t("e2ee.codeHelp") }),
    h("div", { class: "dialog-actions" }, h("button", { class: "btn btn-primary", attrs: { type: "button", id: "e2ee-code-close" }, text: t("common.close"), on: { click: close } })),
  );
  dialog.addEventListener("cancel", close);
  document.body.append(dialog);
  dialog.showModal();
}

/** Mounts the E2EE parts on the meeting screen under `root`; returns their teardown. */
export function mountE2EE(root: HTMLElement, e2ee: E2EE, focus: string): () => void {
  const label = h("span");
  const badge = h("button", { class: "badge badge-e2ee", attrs: { type: "button", id: "e2ee-state", title: t("e2ee.badgeTitle"), hidden: true }, on: { click: () => showCode(e2ee) } }, icon("shield"), label);
  const alert = h("div", { class: "banner banner-e2ee", attrs: { id: "e2ee-alert", role: "alert", hidden: true } });
  const bar = root.querySelector("header.topbar");
  const spacer = bar?.querySelector(".spacer");
  if (bar && spacer) bar.insertBefore(badge, spacer);
  else root.prepend(badge);
  (bar ?? root).after(alert);

  const render = () => {
    const on = e2ee.enabled;
    badge.hidden = !on || !e2ee.keys;
    label.textContent = e2ee.verifiedByPassphrase ? t("e2ee.badgePassphrase") : t("e2ee.badge");
    let warning = "";
    if (e2ee.refused || (on && !e2ee.keys)) warning = e2ee.refused || t("e2ee.unsupported", { why: e2ee.unsupported });
    else if (on && e2ee.agent?.alarm) warning = e2ee.agent.alarm;
    else if (on && e2ee.mismatch) warning = t("e2ee.mismatch");
    alert.hidden = warning === "";
    alert.textContent = warning;
  };
  const off = [
    e2ee.on("change", render),
    addModerationItems(() =>
      e2ee.keys
        ? [
            {
              label: e2ee.enabled ? t("e2ee.turnOff") : t("e2ee.turnOn"),
              action: "e2ee",
              run: async () => {
                const want = !e2ee.enabled;
                try {
                  await e2ee.setEnabled(want, focus);
                  toast(want ? t("e2ee.turnedOn") : t("e2ee.turnedOff"));
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
