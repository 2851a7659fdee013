// The stage: which tile takes it, pinning, and the switch between the grid
// and the stage view. The stage shows, in this order: the pinned tile, a
// remote screen share (put there when it starts), the active speaker (the
// one before while that is us), someone else; the other tiles go to the
// filmstrip below.
import type { Meeting, TileEntry } from "./state";

/** Which tile takes the stage. */
export function pickStage(m: Meeting, list: TileEntry[]): string {
  const { state, conf } = m;
  const has = (k: string) => list.some((e) => e.key === k);
  if (state.pinned && has(state.pinned)) return state.pinned;
  const share = [...list].reverse().find((e) => e.screen && !e.p.local);
  if (share) return share.key;
  // The active speaker; while that is us, whoever spoke before (as Jitsi's stage does).
  for (const id of [state.speaker, ...state.previousSpeakers]) if (id && has(id) && !conf.participants.get(id)?.local) return id;
  return list.find((e) => !e.p.local && !e.screen)?.key ?? list[0]?.key ?? "";
}

/**
 * A remote screen share that just started goes on the stage; call before
 * pickStage. When the share that took the stage ends while it is still
 * pinned there, the layout the user had before comes back (the grid, or
 * the stage with its pin), or the newest share still on takes its place.
 * A user who changed the layout during the share keeps that change.
 */
export function followNewShares(m: Meeting, list: TileEntry[]): void {
  const { state } = m;
  const shares = list.filter((e) => e.screen && !e.p.local).map((e) => e.key);
  const newest = (): string => shares[shares.length - 1] ?? "";
  const before = state.beforeShare;
  if (before && !shares.includes(before.share)) {
    if (state.pinned === before.share) {
      const other = newest();
      if (other) {
        state.pinned = other;
        before.share = other;
      } else {
        state.stageView = before.stageView;
        state.pinned = before.pinned;
        state.beforeShare = null;
      }
    } else {
      state.beforeShare = null;
    }
  }
  for (const k of shares) {
    if (state.knownShares.has(k)) continue;
    // The layout to come back to is the user's, from before the first of overlapping shares.
    if (!state.beforeShare || state.pinned !== state.beforeShare.share) state.beforeShare = { share: k, stageView: state.stageView, pinned: state.pinned };
    else state.beforeShare.share = k;
    state.stageView = true;
    state.pinned = k;
  }
  state.knownShares = new Set(shares);
}

export function setStageView(m: Meeting, on: boolean): void {
  m.state.stageView = on;
  if (!on) m.state.pinned = "";
  m.act.render();
}

/** Pins a tile to the stage ("" unpins); pinning switches to the stage view. */
export function pin(m: Meeting, key: string): void {
  m.state.pinned = key;
  if (key) m.state.stageView = true;
  m.act.render();
}
