// The chat panel: the messages, the recipient (everyone or one person,
// privately) and the message field; a message that arrives while the
// panel is closed shows as a toast.
import type { LoggedMessage } from "../../chat";
import type { Participant } from "../../conference";
import { clear, h, icon } from "../dom";
import { toast } from "../toast";
import { words } from "../wording";
import type { Meeting } from "./state";
import { t } from "../../i18n";

export interface ChatPanel {
  element: HTMLElement;
  /** Shows a message (and a toast when the panel is closed). */
  add(m: LoggedMessage): void;
  /** The recipients to choose from: everyone, or one of these. */
  renderRecipients(list: Participant[]): void;
  /** The panel opened: scroll to the end, restore the recipient, focus the field. */
  opened(): void;
}

export function createChatPanel(m: Meeting): ChatPanel {
  const { conf, state } = m;
  const messages = h("ol", { class: "messages", attrs: { id: "messages", "aria-live": "polite", "aria-label": t("chat.messages") } });
  const recipient = h("select", { class: "field-input field-small", attrs: { id: "chat-to", "aria-label": t("chat.to") } });
  const chatInput = h("textarea", { class: "field-input chat-input", attrs: { id: "chat-input", rows: "2", maxlength: "4000", placeholder: t("chat.placeholder"), "aria-label": t("chat.message") } });
  const chatForm = h(
    "form",
    { class: "chat-form", attrs: { id: "chat-form" } },
    recipient,
    h("div", { class: "chat-row" }, chatInput, h("button", { class: "btn btn-icon btn-primary", attrs: { type: "submit", "aria-label": t("chat.send"), title: t("chat.send") } }, icon("send"))),
  );
  const element = h("section", { class: "chat", attrs: { id: "chat-panel", "aria-label": t("toolbar.chat") } }, messages, chatForm);

  const showRecipient = () => {
    recipient.value = state.privateTo;
    recipient.classList.toggle("private", !!state.privateTo);
  };

  recipient.addEventListener("change", () => {
    state.privateTo = recipient.value;
    recipient.classList.toggle("private", !!state.privateTo);
  });
  chatForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = chatInput.value.trim();
    if (!body) return;
    if (conf.phase.phase !== "joined") {
      toast(t("chat.notSent"), "error");
      return;
    }
    conf.sendChat(body, state.privateTo || undefined);
    chatInput.value = "";
  });
  chatInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      chatForm.requestSubmit();
    }
  });

  const replyButton = (from: string) =>
    h("button", {
      class: "btn btn-link",
      attrs: { type: "button" },
      text: t("chat.reply"),
      on: {
        click: () => {
          state.privateTo = from;
          recipient.value = from;
          recipient.classList.add("private");
          chatInput.focus();
        },
      },
    });

  return {
    element,
    add(msg) {
      const who = msg.mine ? t("common.you") : conf.displayNameOf(msg.from);
      const target = msg.private ? (msg.mine ? t("chat.privateTo", { name: conf.displayNameOf(msg.to ?? "") }) : t("chat.privateToYou")) : "";
      const time = msg.at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
      const li = h(
        "li",
        { class: `message${msg.mine ? " mine" : ""}${msg.private ? " private" : ""}${msg.history ? " history" : ""}` },
        h("div", { class: "message-meta" }, h("span", { class: "message-from", text: who }), target ? h("span", { class: "message-private", text: target }) : null, h("time", { text: time, attrs: { datetime: msg.at.toISOString() } })),
        h("p", { class: "message-body", text: msg.body }),
      );
      if (!msg.mine && msg.private) li.append(replyButton(msg.from));
      const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
      messages.append(li);
      if (atBottom || msg.mine) messages.scrollTop = messages.scrollHeight;
      if (!msg.mine && !msg.history && state.panel !== "chat") toast(words.chatToast(who, msg.body));
    },
    renderRecipients(list) {
      const ids = new Set(list.map((p) => p.id));
      const prev = state.privateTo;
      clear(recipient);
      const all = h("option", { text: t("chat.everyone") });
      all.value = "";
      recipient.append(all);
      for (const p of list) {
        if (p.local) continue;
        const o = h("option", { text: `${conf.displayNameOf(p.id)} (private)` });
        o.value = p.id;
        recipient.append(o);
      }
      state.privateTo = ids.has(prev) ? prev : "";
      showRecipient();
    },
    opened() {
      showRecipient();
      messages.scrollTop = messages.scrollHeight;
      chatInput.focus();
    },
  };
}
