// Room names: validation, the MUC node a name maps to, and generated names
// of several random words (Jitsi-style "AdjectiveNounsVerbAdverb", with an
// extra adjective) that are easy to read out and hard to guess.

const adjectives = (
  "able amber ancient arctic autumn bold brave bright brisk calm candid careful cheerful civic clever " +
  "coastal cosmic cozy crimson crisp curious daring dawn deep eager early earnest electric elegant " +
  "emerald epic fair faithful fancy fearless festive fierce fluffy fond fresh friendly frosty gentle " +
  "gifted gilded glad golden graceful grand green happy hardy hazel hidden honest humble icy idle " +
  "indigo ivory jolly jovial keen kind lavish lazy leafy lively lofty loyal lucid lucky lunar magic " +
  "major mellow merry mighty misty modern modest narrow neat nimble noble northern novel oaken ocean " +
  "olive orange patient peaceful plucky polite proud purple quick quiet radiant rapid rare ready regal " +
  "rosy royal rustic sandy scarlet secret serene sharp shiny silent silver simple sleek smooth snowy " +
  "solar solid sonic spare speedy spicy spotted steady stellar stormy sturdy subtle sunny superb swift " +
  "tender tidy tiny topaz tranquil tropical true twin urban valiant velvet vivid warm wild windy wise " +
  "witty woolen young zealous zesty"
).split(" ");

const nouns = (
  "acorns anchors apples arrows badgers barges beacons bears beavers bells birches bison boats bridges " +
  "brooks buffalos camels candles canyons cards castles cedars cherries cliffs clouds comets corals " +
  "cranes crickets crows dolphins doves dragons drums eagles elephants elks embers falcons feathers " +
  "ferns fiddles finches fireflies flutes foxes frogs gardens geese giraffes glaciers goats harbors " +
  "hawks hedgehogs herons hills horses islands jaguars jays kettles kites koalas lakes lanterns larks " +
  "lemurs lions lizards llamas lynxes magpies maples meadows meteors mice mountains moose moths " +
  "narwhals nebulas oaks orbits orchards otters owls oysters pandas parrots peaches pebbles pelicans " +
  "penguins pines planets plums ponies puffins quails rabbits ravens reefs rivers robins rockets " +
  "salmon seals shells sparrows spiders squirrels stars stones storks swans tigers toucans trains " +
  "trees tulips turtles valleys violins walruses whales willows wolves wombats zebras"
).split(" ");

const verbs = (
  "admire awake balance bloom borrow bounce build carry chase cheer climb collect count cross dance " +
  "dash dig discover dream drift echo explore fetch float fly gather glide glow greet guard hop hum " +
  "hunt jog juggle jump knit laugh lead leap linger listen march mend nap orbit paint paddle play ponder " +
  "race read rest ride roam row run sail scout sing skate sketch sleep slide soar sparkle spin sprint " +
  "stroll study surf swim swing trace travel tumble visit wade walk wander watch weave whistle wink write"
).split(" ");

const adverbs = (
  "abroad afar ahead aloud always anew boldly briefly brightly busily calmly carefully cheerfully " +
  "closely daily deftly eagerly early easily evenly fairly faithfully fast firmly freely gently " +
  "gladly gracefully happily honestly jointly joyfully kindly lazily lightly loosely loudly madly " +
  "merrily mostly neatly nicely nightly noisily often openly patiently politely promptly proudly " +
  "quickly quietly rapidly rarely readily safely sharply shyly silently slowly smoothly softly " +
  "soundly steadily stealthily swiftly tenderly today together truly twice upward vastly warmly " +
  "weekly wildly wisely yearly"
).split(" ");

/** Uniform random integer in [0, n) from a source of random 32-bit words. */
function pick<T>(list: T[], rand: () => number): T {
  // Rejection sampling keeps the choice uniform.
  const limit = Math.floor(0x1_0000_0000 / list.length) * list.length;
  for (;;) {
    const r = rand();
    if (r < limit) return list[r % list.length]!;
  }
}

function cryptoWord(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0]!;
}

const cap = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);

/** A new room name such as "BraveAmberOttersSailQuietly". */
export function generateRoomName(rand: () => number = cryptoWord): string {
  let first = pick(adjectives, rand);
  let second = pick(adjectives, rand);
  while (second === first) second = pick(adjectives, rand);
  return [first, second, pick(nouns, rand), pick(verbs, rand), pick(adverbs, rand)].map(cap).join("");
}

/** Bits of entropy in a generated name (the two adjectives are distinct). */
export function generatedNameBits(): number {
  const n = adjectives.length;
  return Math.log2(n * (n - 1) * nouns.length * verbs.length * adverbs.length);
}

/** Word lists, exposed for tests. */
export const wordLists = { adjectives, nouns, verbs, adverbs };

/**
 * The room name a user typed, cleaned the way Jitsi does: spaces and
 * characters a JID node may not hold are dropped. Empty if nothing is left.
 */
export function cleanRoomName(typed: string): string {
  return typed
    .normalize("NFKC")
    .replace(/[^\p{L}\p{N}_.~-]/gu, "")
    .replace(/^\.+|\.+$/g, "")
    .slice(0, 64);
}

/** Whether a name taken from a URL path is a usable room name. */
export function isValidRoomName(name: string): boolean {
  return name.length > 0 && name.length <= 64 && cleanRoomName(name) === name;
}

/** The MUC node of a room: Jitsi lower-cases room names (JID nodes are case-folded anyway). */
export function roomNode(name: string): string {
  return name.normalize("NFKC").toLowerCase();
}

/** The room name in a location path ("/SomeRoom" → "SomeRoom"), or "" for the home page. */
export function roomFromPath(path: string): string {
  let p = path.replace(/^\/+|\/+$/g, "");
  try {
    p = decodeURIComponent(p);
  } catch {
    return "\u0000"; // not a valid name: shows the invalid-room notice
  }
  return p;
}

/**
 * A room name cut into its words, to wrap it between words on a narrow
 * screen rather than mid-word: at each lower-to-upper case change
 * ("Thirsty|Horses|Dance") and after a hyphen, underscore or dot. Joined
 * back, the parts are the name.
 */
export function roomWords(name: string): string[] {
  return name.split(/(?<=\p{Ll})(?=\p{Lu})|(?<=[-_.])/u).filter((w) => w !== "");
}
