// URL-hash overrides in Jitsi's syntax: `#key=value&key=value`, each value
// URL-encoded JSON (a bare word that is not JSON is taken as a string), e.g.
//   #config.prejoinConfig.enabled=false&userInfo.displayName="Alice"
// Links and automation use them to skip or preset the pre-join screen
// (DESIGN.md, "Interfaces that others rely on").

/** The overrides the client honours; absent keys are undefined. */
export interface Overrides {
  prejoin?: boolean;
  startAudioMuted?: boolean;
  startVideoMuted?: boolean;
  displayName?: string;
  /** config.iceTransportPolicy: "relay" sends all media through TURN. */
  iceTransportPolicy?: "relay" | "all";
  /** `#k=PASSPHRASE`: end-to-end encryption with this passphrase mixed into the keys (docs/e2ee.md); never sent anywhere. */
  e2eePassphrase?: string;
  /** config.e2eeTransform: "legacy" forces Chromium's createEncodedStreams over RTCRtpScriptTransform. */
  e2eeTransform?: "legacy" | "script";
}

const forbidden = new Set(["__proto__", "prototype", "constructor"]);

/** Every key=value pair of the hash, values decoded. */
export function parseHash(hash: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const body = hash.startsWith("#") ? hash.slice(1) : hash;
  for (const part of body.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const key = safeDecode(part.slice(0, eq)).trim();
    if (!key || key.split(".").some((k) => forbidden.has(k))) continue;
    const raw = safeDecode(part.slice(eq + 1));
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Jitsi accepts unquoted strings too.
    }
    out.set(key, value);
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, "%20"));
  } catch {
    return s;
  }
}

function bool(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  if (v === "true" || v === 1) return true;
  if (v === "false" || v === 0) return false;
  return undefined;
}

/** The overrides in a location hash. */
export function readOverrides(hash: string): Overrides {
  const p = parseHash(hash);
  const o: Overrides = {};
  const prejoin = bool(p.get("config.prejoinConfig.enabled")) ?? bool(p.get("config.prejoinPageEnabled"));
  if (prejoin !== undefined) o.prejoin = prejoin;
  const audio = bool(p.get("config.startWithAudioMuted")) ?? bool(p.get("config.startAudioMuted"));
  if (audio !== undefined) o.startAudioMuted = audio;
  const video = bool(p.get("config.startWithVideoMuted")) ?? bool(p.get("config.startVideoMuted"));
  if (video !== undefined) o.startVideoMuted = video;
  const passphrase = readPassphrase(hash);
  if (passphrase) o.e2eePassphrase = passphrase;
  const transform = p.get("config.e2eeTransform");
  if (transform === "legacy" || transform === "script") o.e2eeTransform = transform;
  const policy = p.get("config.iceTransportPolicy");
  if (policy === "relay" || policy === "all") o.iceTransportPolicy = policy;
  const name = p.get("userInfo.displayName");
  if (typeof name === "string" || typeof name === "number") {
    const n = cleanDisplayName(String(name));
    if (n) o.displayName = n;
  }
  return o;
}

/**
 * The `k` of `#k=PASSPHRASE`, URL-decoded but otherwise as typed (not
 * JSON, and "+" stays "+"), or "" without one.
 */
export function readPassphrase(hash: string): string {
  const body = hash.startsWith("#") ? hash.slice(1) : hash;
  const part = body.split("&").find((x) => x.startsWith("k="));
  if (!part) return "";
  try {
    return decodeURIComponent(part.slice(2));
  } catch {
    return part.slice(2);
  }
}

/** Trims a display name and caps its length; control characters go. */
export function cleanDisplayName(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, "").trim().slice(0, 64);
}
