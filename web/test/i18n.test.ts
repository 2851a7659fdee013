import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { E2EE } from "../src/e2ee/controller";
import { catalogues, format, pickLanguage, placeholders, setLanguage, t, type Key, type Plural } from "../src/i18n";
import { words } from "../src/ui/wording";

const languages = Object.keys(catalogues) as (keyof typeof catalogues)[];

test("every catalogue has the English keys, no more, no fewer", () => {
  const want = Object.keys(catalogues.en).sort();
  for (const lang of languages) assert.deepEqual(Object.keys(catalogues[lang]).sort(), want, lang);
});

test("every translation uses the same placeholders as the English", () => {
  for (const lang of languages) {
    for (const key of Object.keys(catalogues.en) as Key[]) {
      assert.deepEqual(placeholders(catalogues[lang][key]), placeholders(catalogues.en[key]), `${lang} ${key}`);
    }
  }
});

test("plural messages have every form their language's rules choose", () => {
  for (const lang of languages) {
    for (const [key, msg] of Object.entries(catalogues[lang])) {
      if (typeof msg === "string") continue;
      assert.equal(typeof catalogues.en[key as Key], "object", `${lang} ${key}: plural where English is not`);
      const p = msg as Plural;
      const rules = new Intl.PluralRules(lang, { type: p.ordinal ? "ordinal" : "cardinal" });
      for (const cat of rules.resolvedOptions().pluralCategories) assert.ok(p[cat] ?? (cat === "other" ? undefined : p.other), `${lang} ${key}: no "${cat}" form`);
      assert.ok(p.other, `${lang} ${key}: no "other" form`);
    }
  }
});

test("no sentence is left in English in another catalogue", () => {
  for (const lang of languages.filter((l) => l !== "en")) {
    for (const key of Object.keys(catalogues.en) as Key[]) {
      const en = JSON.stringify(catalogues.en[key]);
      // The product name is the same everywhere.
      const words = en.replace(/\{\w+\}|Parley/g, "").match(/[A-Za-z]{2,}/g) ?? [];
      if (words.length >= 2) assert.notEqual(JSON.stringify(catalogues[lang][key]), en, `${lang} ${key} is the English text`);
    }
  }
});

test("lookup: placeholders filled, plural and ordinal forms by Intl.PluralRules", () => {
  assert.equal(format("en", catalogues.en["topbar.count"], { count: 1 }), "1 person");
  assert.equal(format("en", catalogues.en["topbar.count"], { count: 6 }), "6 people");
  assert.equal(format("de", catalogues.de["topbar.count"], { count: 1 }), "1 Person");
  assert.equal(format("de", catalogues.de["topbar.count"], { count: 6 }), "6 Personen");
  assert.equal(format("en", catalogues.en["hand.raisedBy"], { name: "Ada" }), "Ada raised a hand");
  assert.equal(format("en", "{a} and {b}", { a: 1 }), "1 and {b}", "a missing parameter stays visible");
  const ord = (lang: "en" | "de", n: number) => format(lang, catalogues[lang]["common.ordinal"], { count: n });
  assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101].map((n) => ord("en", n)), ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st"]);
  assert.deepEqual([1, 2, 11].map((n) => ord("de", n)), ["1.", "2.", "11."]);
});

test("the language: ?lang= first, then the browser's languages in order, else English", () => {
  assert.equal(pickLanguage(["de-AT", "en"]), "de");
  assert.equal(pickLanguage(["fr-FR", "de"]), "de");
  assert.equal(pickLanguage(["fr-FR", "it"]), "en");
  assert.equal(pickLanguage([]), "en");
  assert.equal(pickLanguage(["en-US"], "de"), "de");
  assert.equal(pickLanguage(["de"], "EN"), "en");
  assert.equal(pickLanguage(["de-DE"], "xx"), "de", "an unknown override is ignored");
  assert.equal(pickLanguage(["en-US"], null), "en");
});

test("the meeting's words follow the language set", () => {
  try {
    setLanguage("de");
    assert.equal(t("toolbar.leave"), "Besprechung verlassen");
    assert.equal(words.handOrder("Ada", 2), "Ada hat die Hand gehoben, 2. in der Reihe");
    assert.equal(words.raiseHand, "Hand heben");
    assert.equal(words.title("Standup", 3), "(3) Standup · Parley");
    setLanguage("en");
    assert.equal(words.handOrder("Ada", 2), "Ada's hand is up, 2nd in line");
    assert.equal(words.raiseHand, "Raise your hand");
  } finally {
    setLanguage("en");
  }
});

test("end-to-end encryption's words follow the language set", async () => {
  try {
    setLanguage("de");
    // Node has no encoded transforms: this browser "cannot encrypt", said in German.
    const e2ee = await E2EE.create({ transform: "" });
    assert.equal(e2ee.unsupported, "Dieser Browser kann keine Videobilder verschlüsseln (ihm fehlen die Encoded Transforms).");
    await assert.rejects(e2ee.setEnabled(true, "focus.example"), { message: "Sie sind in keiner Besprechung." });
    setLanguage("en");
    await assert.rejects(e2ee.setEnabled(true, "focus.example"), { message: "Not in a meeting." });
  } finally {
    setLanguage("en");
  }
});

// Words written into the code rather than the catalogues: a text, label,
// title, message or button given as a literal that starts with a letter,
// a toast or an Error with a literal sentence. The end-to-end encryption
// screens (ui/e2ee.ts, e2ee/) are scanned like the rest.
test("the client's user-visible words are all in the catalogues", () => {
  const src = join(process.cwd(), "src");
  const skip = [/^i18n\//];
  const literal = [
    /\b(?:text|label|title|message|confirm|cancel|placeholder|error)\s*:\s*["'`][A-Za-z][^"'`]*[a-z]/,
    /"aria-label"\s*:\s*["'`][A-Za-z]/,
    /\btoast\(\s*["'`]/,
    /new Error\(\s*["'`][A-Z][a-z]+ /,
    /showNotice\(\s*root\s*,\s*["'`]/,
    /\.(?:textContent|title)\s*=\s*["'`][A-Za-z]/,
  ];
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(src, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else if (rel.endsWith(".ts") && !skip.some((re) => re.test(rel))) {
        readFileSync(join(src, rel), "utf8")
          .split("\n")
          .forEach((line, i) => {
            if (!/^\s*(\/\/|\*)/.test(line) && literal.some((re) => re.test(line))) found.push(`${rel}:${i + 1}: ${line.trim()}`);
          });
      }
    }
  };
  walk("");
  assert.deepEqual(found, []);
});
