// The participants panel: everyone in the meeting with their role, raised
// hand and microphone and camera state, a private message button, and for
// moderators a remove button. Raised hands come first, in the order they
// went up.
import type { Participant } from "../../conference";
import { clear, h, hueFor, icon, initials } from "../dom";
import { handBadge, handPlaces } from "./hands";
import type { Meeting } from "./state";

export interface PeoplePanel {
  element: HTMLElement;
  render(list: Participant[]): void;
}

export function createPeoplePanel(m: Meeting): PeoplePanel {
  const { conf, state } = m;
  const peopleList = h("ul", { class: "people", attrs: { id: "people" } });
  const element = h("section", { class: "people-panel", attrs: { id: "people-panel", "aria-label": "Participants" } }, peopleList);

  const person = (p: Participant, place: number | undefined): HTMLElement => {
    const name = p.local ? p.displayName || "You" : conf.displayNameOf(p.id);
    const av = h("span", { class: "avatar avatar-small", attrs: { "aria-hidden": "true" }, text: initials(name) });
    av.style.setProperty("--hue", String(hueFor(p.id)));
    const kick = p.local || !conf.isModerator
      ? null
      : h(
          "button",
          {
            class: "btn btn-icon btn-small btn-kick",
            attrs: { type: "button", "aria-label": `Remove ${name} from the meeting`, title: "Remove from the meeting" },
            on: { click: () => m.act.kick(p.id, name) },
          },
          icon("close"),
        );
    const message = p.local
      ? null
      : h(
          "button",
          {
            class: "btn btn-icon btn-small",
            attrs: { type: "button", "aria-label": `Message ${name} privately`, title: "Private message" },
            on: {
              click: () => {
                state.privateTo = p.id;
                m.act.setPanel("chat");
              },
            },
          },
          icon("chat"),
        );
    return h(
      "li",
      { class: "person", attrs: { "data-id": p.id } },
      av,
      h("span", { class: "person-name", text: name + (p.local ? " (you)" : "") }),
      handBadge(m, p, place, "person-hand"),
      p.role === "moderator" ? h("span", { class: "tag", text: "Moderator" }) : null,
      h("span", { class: "person-icons" }, icon(p.audioMuted ? "micOff" : "mic"), icon(p.videoMuted ? "camOff" : "cam")),
      kick,
      message,
    );
  };

  return {
    element,
    render(list) {
      // Raised hands first, in the order they went up; then everyone else as the tiles are.
      const hands = handPlaces(m);
      const order = [...list].sort((a, b) => (hands.get(a.id) ?? Number.MAX_SAFE_INTEGER) - (hands.get(b.id) ?? Number.MAX_SAFE_INTEGER));
      clear(peopleList);
      for (const p of order) peopleList.append(person(p, hands.get(p.id)));
    },
  };
}
