// AV moderation (protocol/jitsi-dialect.md §4.8), the microphone only:
// a moderator asks the av_moderation component to moderate a medium; from
// then on participants who are not moderators may unmute it only once a
// moderator has allowed them ("Allow to speak", jidToWhitelist). The
// component tells every occupant when moderation goes on or off, and a
// participant when they are allowed or no longer allowed, in
// <json-message xmlns="http://jitsi.org/jitmeet"> from its own address.
import { xml, type Element } from "@xmpp/xml";
import { bareOf, NS } from "./muc";

export type AVMedium = "audio" | "video" | "desktop";

/** A command to the component: enable/disable moderation, or allow (whitelist) / disallow (blacklist) an occupant. */
export function avModerationMessage(component: string, mediaType: AVMedium, cmd: { enable: boolean } | { allow: string } | { disallow: string }): Element {
  const attrs: Record<string, string> = { mediaType };
  if ("enable" in cmd) attrs.enable = String(cmd.enable);
  else if ("allow" in cmd) attrs.jidToWhitelist = cmd.allow;
  else attrs.jidToBlacklist = cmd.disallow;
  return xml("message", { to: component }, xml("av_moderation", attrs));
}

/** What the component says, for the room `roomJid`. */
export interface AVModerationEvent {
  mediaType: AVMedium;
  /** Moderation turned on or off. */
  enabled?: boolean;
  /** This participant may now unmute (true), or may no longer (removed). */
  approved?: boolean;
  removed?: boolean;
  /** Moderators: the occupant JIDs allowed per medium. */
  whitelists?: Partial<Record<AVMedium, string[]>>;
  /** The moderator's occupant JID. */
  actor: string;
}

const media = new Set<string>(["audio", "video", "desktop"]);

/** Parses a json-message from the component about `roomJid`; null for anything else (another sender, room, type, or bad JSON). */
export function parseAVModeration(el: Element, component: string, roomJid: string): AVModerationEvent | null {
  if (el.name !== "message" || el.attrs.type === "error" || !component) return null;
  if (bareOf(el.attrs.from ?? "").toLowerCase() !== component.toLowerCase()) return null;
  const text = el.getChildText("json-message", NS.jitmeet);
  if (!text || text.length > 64 * 1024) return null;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== "object" || v.type !== "av_moderation") return null;
  if (typeof v.room === "string" && v.room.toLowerCase() !== roomJid.toLowerCase()) return null;
  if (typeof v.mediaType !== "string" || !media.has(v.mediaType)) return null;
  const ev: AVModerationEvent = { mediaType: v.mediaType as AVMedium, actor: typeof v.actor === "string" ? v.actor : typeof v.from === "string" ? v.from : "" };
  if (typeof v.enabled === "boolean") ev.enabled = v.enabled;
  if (v.approved === true) ev.approved = true;
  if (v.removed === true) ev.removed = true;
  if (v.whitelists && typeof v.whitelists === "object") {
    const w: Partial<Record<AVMedium, string[]>> = {};
    for (const [k, list] of Object.entries(v.whitelists as Record<string, unknown>)) {
      if (media.has(k) && Array.isArray(list)) w[k as AVMedium] = list.filter((x): x is string => typeof x === "string").slice(0, 1000);
    }
    ev.whitelists = w;
  }
  return ev;
}
