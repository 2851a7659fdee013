// Raised hands on the meeting screen: the badge on a tile and in the
// participants list, with the hand's place in line (the order hands went
// up, conference.raisedHands). Our own badge lowers our hand; a
// moderator's lowers someone else's (they are asked, as Jitsi Meet asks).
import type { Participant } from "../../conference";
import { h, icon } from "../dom";
import { toast } from "../toast";
import { words } from "../wording";
import { nameOf, type Meeting } from "./state";

/** Each raised hand's place in line, from 1. */
export function handPlaces(m: Meeting): Map<string, number> {
  return new Map(m.conf.raisedHands.map((p, i) => [p.id, i + 1]));
}

/** Raises or lowers our hand. */
export function toggleHand(m: Meeting): void {
  m.conf.raiseHand(!m.conf.handRaised);
}

/** The hand badge for p, or null when p's hand is down. */
export function handBadge(m: Meeting, p: Participant, place: number | undefined, cls: string): HTMLElement | null {
  if (!place) return null;
  const name = nameOf(p);
  const content = [icon("hand"), h("span", { class: "hand-place", text: String(place) })];
  const label = p.local ? words.yourHandOrder(place) : words.handOrder(name, place);
  const lower = p.local ? () => m.conf.raiseHand(false) : m.conf.isModerator ? () => lowerOthers(m, p) : null;
  if (!lower) return h("span", { class: cls, attrs: { "data-hand": String(place), role: "img", "aria-label": label, title: label } }, ...content);
  const title = p.local ? label : `${label}. ${words.lowerHandOf(name)}`;
  return h(
    "button",
    {
      class: `${cls} hand-button`,
      attrs: { type: "button", "data-hand": String(place), "aria-label": title, title },
      on: {
        click: (ev) => {
          ev.stopPropagation(); // not a click on the tile (which pins it)
          lower();
        },
      },
    },
    ...content,
  );
}

function lowerOthers(m: Meeting, p: Participant): void {
  try {
    m.conf.askToLowerHand(p.id);
  } catch (err) {
    toast((err as Error).message, "error", 6000);
  }
}
