// Translations: the client's words in one catalogue per language (en.ts,
// de.ts), looked up by key with t(). A message is a string with {name}
// placeholders, or plural forms chosen by Intl.PluralRules for the count
// (or, for an ordinal message, the ordinal rules: "1st", "2nd"). The
// language is picked once at start (pickLanguage: ?lang= in the URL, then
// the browser's navigator.languages, then English) and set with setLanguage
// before anything is drawn; a missing key is a compile error, since every
// catalogue is typed by the English one.
import { de } from "./de";
import { en, type Key, type Message } from "./en";

export type { Key, Message, Plural } from "./en";

export const catalogues = { en, de } satisfies Record<string, Record<Key, Message>>;
export type Language = keyof typeof catalogues;
export type Params = Record<string, string | number>;

let current: Language = "en";
const rules = new Map<string, Intl.PluralRules>();

/** Sets the language every later t() uses (and the page's lang attribute, where there is a page). */
export function setLanguage(lang: Language): void {
  current = lang;
  if (typeof document !== "undefined") document.documentElement.lang = lang;
}

export function language(): Language {
  return current;
}

/**
 * The language to use: the override (?lang=de) if there is a catalogue for
 * it, else the first of the browser's preferred languages that has one
 * ("de-AT" counts as "de"), else English.
 */
export function pickLanguage(preferred: readonly string[], override?: string | null): Language {
  for (const tag of [override ?? "", ...preferred]) {
    const base = tag.trim().toLowerCase().split(/[-_]/)[0] ?? "";
    if (Object.hasOwn(catalogues, base)) return base as Language;
  }
  return "en";
}

/** The message for key in the current language, with {placeholders} filled from params. */
export function t(key: Key, params: Params = {}): string {
  return format(current, catalogues[current][key] ?? en[key], params);
}

/** A message in a given language (tests, and messages that must not depend on the current one). */
export function format(lang: Language, msg: Message, params: Params = {}): string {
  let text: string;
  if (typeof msg === "string") text = msg;
  else {
    const type = msg.ordinal ? "ordinal" : "cardinal";
    let r = rules.get(lang + type);
    if (!r) rules.set(lang + type, (r = new Intl.PluralRules(lang, { type })));
    text = msg[r.select(Number(params.count ?? 0))] ?? msg.other;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** The {placeholders} a message uses, sorted, over all its forms. */
export function placeholders(msg: Message): string[] {
  const texts = typeof msg === "string" ? [msg] : Object.values(msg).filter((v): v is string => typeof v === "string");
  return [...new Set(texts.flatMap((s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)))].sort();
}
