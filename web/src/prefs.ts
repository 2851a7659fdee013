// What the browser remembers between visits (localStorage): display name,
// chosen devices, noise suppression, the preferred video quality and
// recent rooms. Storage may be missing or full (private
// windows, quotas): every access is guarded and failure only forgets.

export interface RecentRoom {
  name: string;
  at: number; // ms since epoch of the last join
}

/** The preferred quality of the video we receive (the settings dialog). */
export type VideoQuality = "low" | "standard" | "high";

/** The tallest video each quality asks the bridge for (ReceiverVideoConstraints' maxHeight cap). */
export const qualityHeight: Record<VideoQuality, number> = { low: 180, standard: 360, high: 720 };

/**
 * The most frames a second each quality asks for (maxFrameRate; -1 no
 * limit): "low" saves bandwidth and decoding with half the frames, which
 * the bridge gets by leaving out the senders' top temporal layer.
 */
export const qualityFrameRate: Record<VideoQuality, number> = { low: 15, standard: -1, high: -1 };

const KEY = "parley.";
const MAX_RECENT = 8;

export class Prefs {
  constructor(private store: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null = safeLocalStorage()) {}

  private get(key: string): string | null {
    try {
      return this.store?.getItem(KEY + key) ?? null;
    } catch {
      return null;
    }
  }

  private set(key: string, value: string | null): void {
    try {
      if (value === null) this.store?.removeItem(KEY + key);
      else this.store?.setItem(KEY + key, value);
    } catch {
      // Forget silently: nothing depends on it.
    }
  }

  get displayName(): string {
    return this.get("displayName") ?? "";
  }
  set displayName(v: string) {
    this.set("displayName", v || null);
  }

  /** A stable random ID for this browser (the focus request's machine-uid, §3.1). */
  machineUid(): string {
    let id = this.get("machineUid");
    if (!id || !/^[0-9a-f]{32}$/.test(id)) {
      const b = new Uint8Array(16);
      crypto.getRandomValues(b);
      id = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
      this.set("machineUid", id);
    }
    return id;
  }

  device(kind: "audioinput" | "videoinput" | "audiooutput"): string {
    return this.get("device." + kind) ?? "";
  }
  setDevice(kind: "audioinput" | "videoinput" | "audiooutput", id: string): void {
    this.set("device." + kind, id || null);
  }

  /** Whether the microphone is asked for noise suppression (the browser's default: on). */
  get noiseSuppression(): boolean {
    return this.get("noiseSuppression") !== "off";
  }
  set noiseSuppression(on: boolean) {
    this.set("noiseSuppression", on ? null : "off");
  }

  /** The preferred quality of received video; "high" (no cap beyond the tiles') unless chosen. */
  get videoQuality(): VideoQuality {
    const v = this.get("videoQuality");
    return v === "low" || v === "standard" ? v : "high";
  }
  set videoQuality(q: VideoQuality) {
    this.set("videoQuality", q === "high" ? null : q);
  }

  recentRooms(): RecentRoom[] {
    try {
      const v = JSON.parse(this.get("recent") ?? "[]");
      if (!Array.isArray(v)) return [];
      return v
        .filter((r): r is RecentRoom => typeof r?.name === "string" && typeof r?.at === "number")
        .slice(0, MAX_RECENT);
    } catch {
      return [];
    }
  }

  addRecentRoom(name: string, now = Date.now()): void {
    const rest = this.recentRooms().filter((r) => r.name.toLowerCase() !== name.toLowerCase());
    this.set("recent", JSON.stringify([{ name, at: now }, ...rest].slice(0, MAX_RECENT)));
  }

  removeRecentRoom(name: string): void {
    this.set("recent", JSON.stringify(this.recentRooms().filter((r) => r.name !== name)));
  }
}

function safeLocalStorage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
