// The conference request to the focus (protocol/jitsi-dialect.md §3): asks
// focus.<domain> to create the conference and join the room before we do.
// ready="false" is retried with back-off 1 s, 2 s, 4 s … (capped); an error
// tells the caller the focus is missing or refused, and the client then
// joins the room without media.
import { xml, type Element } from "@xmpp/xml";

export const NS_FOCUS = "http://jitsi.org/protocol/focus";

export interface ConferenceRequest {
  focus: string; // focus.<domain>
  room: string; // room@conference.<domain>
  machineUid: string;
  startAudioMuted?: boolean;
  startVideoMuted?: boolean;
  /** The JWT, if any (§3.1: the focus reads the user's identity from it). */
  token?: string;
  /** Ask for an end-to-end encrypted room (a #k= link; docs/e2ee.md): property e2ee=true. */
  e2ee?: boolean;
}

export function conferenceIQ(r: ConferenceRequest): Element {
  const prop = (name: string, value: string) => xml("property", { name, value });
  return xml(
    "iq",
    { type: "set", to: r.focus },
    xml(
      "conference",
      { xmlns: NS_FOCUS, room: r.room, "machine-uid": r.machineUid, token: r.token || undefined },
      prop("rtcstatsEnabled", "false"),
      prop("visitors-version", "1"),
      r.startAudioMuted ? prop("startAudioMuted", "true") : null,
      r.startVideoMuted ? prop("startVideoMuted", "true") : null,
      r.e2ee ? prop("e2ee", "true") : null,
    ),
  );
}

export interface ConferenceReply {
  ready: boolean;
  focusJid: string;
  properties: Map<string, string>;
}

export function parseConferenceReply(iq: Element): ConferenceReply {
  const c = iq.getChild("conference", NS_FOCUS);
  const properties = new Map<string, string>();
  for (const p of c?.getChildren("property") ?? []) {
    if (p.attrs.name) properties.set(p.attrs.name, p.attrs.value ?? "");
  }
  return { ready: c?.attrs.ready === "true", focusJid: c?.attrs.focusjid ?? "", properties };
}

/** Delay before retry number n (0-based) of a request answered ready="false". */
export function retryDelay(n: number, capMs = 120_000): number {
  return Math.min(1000 * 2 ** Math.min(n, 20), capMs);
}

/** The outcome of the handshake the conference acts on. */
export type FocusOutcome =
  | { kind: "ready"; reply: ConferenceReply }
  | { kind: "unavailable"; condition: string } // no focus (or it failed): join without media
  | { kind: "auth-required" }; // not-authorized: a secure domain and nobody signed in has started the room (§3.3)

/**
 * Runs the handshake with `request` (an IQ round trip that rejects with
 * the stanza error condition) until the focus is ready or fails.
 */
export async function requestConference(
  r: ConferenceRequest,
  request: (iq: Element) => Promise<Element>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((res) => setTimeout(res, ms)),
  maxTries = 8,
): Promise<FocusOutcome> {
  for (let n = 0; n < maxTries; n++) {
    let reply: ConferenceReply;
    try {
      reply = parseConferenceReply(await request(conferenceIQ(r)));
    } catch (err) {
      const condition = (err as { condition?: string }).condition ?? (err as Error).name ?? "error";
      if (condition === "not-authorized") return { kind: "auth-required" };
      return { kind: "unavailable", condition };
    }
    if (reply.ready) return { kind: "ready", reply };
    await sleep(retryDelay(n));
  }
  return { kind: "unavailable", condition: "not-ready" };
}
