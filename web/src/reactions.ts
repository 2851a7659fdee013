// Reactions and the lower-hand request as Jitsi Meet sends them: bridge
// channel EndpointMessages (protocol/jitsi-dialect.md §6) whose msgPayload
// has a "name". A reaction is broadcast as
//   {"name":"endpoint-reaction","reactions":["like"],"timestamp":<ms>}
// with the reaction IDs Jitsi Meet knows (several when clicked in a burst);
// a moderator asks someone to lower their hand with
//   {"name":"lower-hand-message"} sent to that endpoint; Jitsi Meet sends it
// through the bridge channel, Parley as a private json-message through the
// room (muc.privateJSON), which LJM takes for the same endpoint message and
// which is not lost while the recipient's bridge channel is still opening.

/** The reactions, by the ID that travels, in the order the picker shows them. */
export const REACTIONS = {
  like: "👍",
  clap: "👏",
  laugh: "😀",
  surprised: "😮",
  boo: "🙁",
  silence: "😶",
} as const;
export type ReactionId = keyof typeof REACTIONS;

export const REACTION_MESSAGE = "endpoint-reaction";
export const LOWER_HAND_MESSAGE = "lower-hand-message";

/** At most this many reactions of one message are shown (a burst, not a flood). */
const maxPerMessage = 10;

export function isReaction(id: string): id is ReactionId {
  return Object.prototype.hasOwnProperty.call(REACTIONS, id);
}

export function reactionPayload(ids: ReactionId[], now = Date.now()): Record<string, unknown> {
  return { name: REACTION_MESSAGE, reactions: ids, timestamp: now };
}

export type EndpointEvent = { kind: "reactions"; reactions: ReactionId[] } | { kind: "lower-hand" };

/** What an EndpointMessage's payload asks of us, or null for anything else (unknown IDs are dropped). */
export function parseEndpointPayload(payload: Record<string, unknown>): EndpointEvent | null {
  switch (payload.name) {
    case REACTION_MESSAGE: {
      const list = Array.isArray(payload.reactions) ? payload.reactions : [];
      const reactions = list.filter((r): r is ReactionId => typeof r === "string" && isReaction(r)).slice(0, maxPerMessage);
      return reactions.length ? { kind: "reactions", reactions } : null;
    }
    case LOWER_HAND_MESSAGE:
      return { kind: "lower-hand" };
    default:
      return null;
  }
}
