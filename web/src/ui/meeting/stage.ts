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

/** A remote screen share that just started goes on the stage; call before pickStage. */
export function followNewShares(m: Meeting, list: TileEntry[]): void {
  const shares = new Set(list.filter((e) => e.screen && !e.p.local).map((e) => e.key));
  for (const k of shares) {
    if (!m.state.knownShares.has(k)) {
      m.state.stageView = true;
      m.state.pinned = k;
    }
  }
  m.state.knownShares = shares;
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
