// DOM helpers: element construction without innerHTML (so no markup is ever
// built from strings, and the CSP needs no 'unsafe-inline'), and icons.

type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  text?: string;
  attrs?: Record<string, string | boolean | undefined>;
  on?: { [K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void };
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = props.text;
  for (const [k, v] of Object.entries(props.attrs ?? {})) {
    if (v === true) el.setAttribute(k, "");
    else if (v !== false && v !== undefined) el.setAttribute(k, v);
  }
  for (const [k, fn] of Object.entries(props.on ?? {})) el.addEventListener(k, fn as EventListener);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.firstChild.remove();
}

// 24×24 outline icons, drawn for Parley.
const paths: Record<string, string[]> = {
  mic: ["M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3z", "M5 11a7 7 0 0 0 14 0", "M12 18v3"],
  micOff: ["M9 9v3a3 3 0 0 0 5.1 2.1M15 11V6a3 3 0 0 0-5.7-1.3", "M5 11a7 7 0 0 0 11.2 5.6M19 11a7 7 0 0 1-.6 2.8", "M12 18v3", "M3 3l18 18"],
  cam: ["M3 7h12v10H3z", "M15 10l6-3v10l-6-3"],
  camOff: ["M7 7h8v8M15 17H3V7h1", "M15 10l6-3v10l-6-3", "M3 3l18 18"],
  chat: ["M4 5h16v11H9l-5 4z"],
  people: ["M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z", "M2.5 20a6.5 6.5 0 0 1 13 0", "M16 4.5a3.5 3.5 0 0 1 0 6.5M18 14.5a6.5 6.5 0 0 1 3.5 5.5"],
  link: ["M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1", "M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"],
  lock: ["M6 11h12v9H6z", "M8.5 11V8a3.5 3.5 0 0 1 7 0v3"],
  unlock: ["M6 11h12v9H6z", "M8.5 11V8a3.5 3.5 0 0 1 6.8-1.2"],
  leave: ["M3.5 14.5c5-4.7 12-4.7 17 0l-2.2 2.2-3.3-1.6v-2.6a11 11 0 0 0-6 0v2.6l-3.3 1.6z"],
  shuffle: ["M4 7h3l10 10h3", "M4 17h3l3-3M14 10l3-3h3", "M18 5l2 2-2 2M18 15l2 2-2 2"],
  close: ["M6 6l12 12M18 6L6 18"],
  screen: ["M3 4h18v12H3z", "M8 20h8M12 16v4", "M12 13V7M9 9.5l3-3 3 3"],
  stage: ["M3 4h18v11H3z", "M3 18h5v2H3zM9.5 18h5v2h-5zM16 18h5v2h-5z"],
  grid: ["M3 4h8v7H3zM13 4h8v7h-8zM3 13h8v7H3zM13 13h8v7h-8z"],
  more: ["M12 4.75a1.25 1.25 0 1 0 0 2.5 1.25 1.25 0 1 0 0-2.5z", "M12 10.75a1.25 1.25 0 1 0 0 2.5 1.25 1.25 0 1 0 0-2.5z", "M12 16.75a1.25 1.25 0 1 0 0 2.5 1.25 1.25 0 1 0 0-2.5z"],
  pin: ["M9 3h6l-1 6 4 4H6l4-4z", "M12 13v8"],
  send: ["M4 12l16-8-6 16-2-6z", "M12 14l8-10"],
  shield: ["M12 3l8 3v6c0 4.5-3.4 8.3-8 9-4.6-.7-8-4.5-8-9V6z", "M9 12l2 2 4-4"],
  warn: ["M12 3l10 18H2z", "M12 10v5M12 17.5v.5"],
  hand: ["M8 13.5V6.5a1.5 1.5 0 0 1 3 0V12", "M11 11.5V4.5a1.5 1.5 0 0 1 3 0V12", "M14 12V6a1.5 1.5 0 0 1 3 0v6", "M17 12V9a1.5 1.5 0 0 1 3 0v6a6 6 0 0 1-6 6h-1.4a6 6 0 0 1-4.8-2.4l-3.5-4.7a1.5 1.5 0 0 1 2.4-1.8L8 13.5"],
  smile: ["M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z", "M8.5 14a4.5 4.5 0 0 0 7 0", "M9 9.5v.5M15 9.5v.5"],
  keyboard: ["M3 6h18v12H3z", "M7 10h.01M11 10h.01M15 10h.01M7 14h10"],
  settings: ["M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z", "M19 12a7 7 0 0 0-.1-1.2l2-1.6-2-3.4-2.4 1a7 7 0 0 0-2-1.2L14 3h-4l-.5 2.6a7 7 0 0 0-2 1.2l-2.4-1-2 3.4 2 1.6a7 7 0 0 0 0 2.4l-2 1.6 2 3.4 2.4-1a7 7 0 0 0 2 1.2L10 21h4l.5-2.6a7 7 0 0 0 2-1.2l2.4 1 2-3.4-2-1.6c.1-.4.1-.8.1-1.2z"],
};

export type IconName = keyof typeof paths;

export function icon(name: IconName): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  for (const d of paths[name] ?? []) {
    const p = document.createElementNS(ns, "path");
    p.setAttribute("d", d);
    svg.append(p);
  }
  return svg;
}

/**
 * Initials for an avatar, from letters and digits only: "Ada Lovelace" →
 * "AL", "Phil (phone)" → "PP", "-- ?" → "?".
 */
export function initials(name: string): string {
  const words = name
    .split(/\s+/)
    .map((w) => w.replace(/[^\p{L}\p{N}]/gu, ""))
    .filter(Boolean);
  if (words.length === 0) return "?";
  const first = Array.from(words[0]!)[0] ?? "";
  const last = words.length > 1 ? (Array.from(words[words.length - 1]!)[0] ?? "") : "";
  return (first + last).toUpperCase();
}

/** A stable hue (0–359) for a participant's avatar. */
export function hueFor(id: string): number {
  let x = 0;
  for (const ch of id) x = (x * 31 + ch.charCodeAt(0)) >>> 0;
  return x % 360;
}

/** Whether a key event comes from a text field (shortcuts must not fire there). */
export function inTextField(ev: KeyboardEvent): boolean {
  const t = ev.target as HTMLElement | null;
  return !!t && (t.isContentEditable || t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
}
