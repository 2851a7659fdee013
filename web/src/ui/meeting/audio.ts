// Remote audio: one <audio> per participant, outside the tiles, so that
// re-rendering a tile never interrupts what we hear; all of them play on
// the speaker chosen in the settings (setSinkId, where the browser has it).
import type { MediaSession } from "../../session";
import { h } from "../dom";

export interface RemoteAudio {
  element: HTMLElement;
  /** Follows the media session's remote audio tracks. */
  sync(): void;
  /** Plays everything on this audio output device ("" the system's default); rejects when the browser refuses it. */
  setSink(deviceId: string): Promise<void>;
}

export function createRemoteAudio(session: MediaSession): RemoteAudio {
  const element = h("div", { attrs: { id: "remote-audio", hidden: "" } });
  const audios = new Map<string, HTMLAudioElement>();
  let sink = "";
  // Safari has no setSinkId: the settings dialog hides the choice there.
  const applySink = (a: HTMLAudioElement) => ("setSinkId" in a && (sink || a.sinkId) ? a.setSinkId(sink) : Promise.resolve());
  return {
    element,
    async setSink(deviceId) {
      sink = deviceId;
      await Promise.all([...audios.values()].map(applySink));
    },
    sync() {
      for (const [id, a] of audios) {
        const track = session.remotes.get(id)?.audio;
        if (!track || (a.srcObject as MediaStream | null)?.getAudioTracks()[0] !== track) {
          a.srcObject = null;
          a.remove();
          audios.delete(id);
        }
      }
      for (const [id, r] of session.remotes) {
        if (!r.audio || audios.has(id)) continue;
        const a = h("audio", { attrs: { autoplay: true, "data-id": id } });
        a.srcObject = new MediaStream([r.audio]);
        applySink(a).catch((err) => console.warn("choosing the speaker failed:", err));
        audios.set(id, a);
        element.append(a);
        // Without a click on the page first (the pre-join screen skipped), the
        // browser may refuse to play sound: try again on the first click or key.
        a.play().catch(() => {
          const retry = () => a.play().catch(() => {});
          addEventListener("pointerdown", retry, { once: true });
          addEventListener("keydown", retry, { once: true });
        });
      }
    },
  };
}
