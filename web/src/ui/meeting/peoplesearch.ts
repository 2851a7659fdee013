// The participants panel's search: which display names match what was
// typed. Apart from the panel so the unit tests run it without a page.

/** Whether a display name matches what was typed: every word of the query starts a word of the name, ignoring case and accents. */
export function nameMatches(name: string, query: string): boolean {
  const fold = (s: string) => s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
  const words = fold(name).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  return fold(query)
    .split(/\s+/)
    .filter(Boolean)
    .every((q) => words.some((w) => w.startsWith(q)));
}
