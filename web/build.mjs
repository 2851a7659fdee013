// Builds the browser client into dist/ (committed, embedded by embed.go):
//   node build.mjs          bundle src/ with esbuild, write dist/ and dist/sources.sha256
//   node build.mjs --check  fail if dist/sources.sha256 does not match the sources
//   node build.mjs --test   type-check, bundle test/*.test.ts and run them with node --test
// The sources hash covers every input of the bundle; web/bundle_test.go
// computes the same hash in Go, so `go test` notices a stale bundle.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = join(here, "dist");
const hashFile = join(dist, "sources.sha256");

/** Files whose content decides the bundle, as sorted slash-separated paths. */
function inputs() {
  const files = ["build.mjs", "package-lock.json", "tsconfig.json"];
  const walk = (dir) => {
    for (const e of readdirSync(join(here, dir), { withFileTypes: true })) {
      const p = dir + "/" + e.name;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  walk("src");
  return files.sort();
}

/** sha256 over "path\n" + sha256(content) + "\n" for each input, in order. */
export function sourcesHash() {
  const h = createHash("sha256");
  for (const f of inputs()) {
    const content = readFileSync(join(here, f));
    h.update(f + "\n" + createHash("sha256").update(content).digest("hex") + "\n");
  }
  return h.digest("hex");
}

// @xmpp/resolve imports node:dns for SRV look-ups; its package.json's
// "browser" map misses the ".js" spelling of that import. A browser only
// uses the WebSocket URL it is given, so DNS resolution is stubbed out.
const noNodeDNS = {
  name: "no-node-dns",
  setup(b) {
    b.onResolve({ filter: /^node:dns$/ }, () => ({ path: "node:dns", namespace: "stub" }));
    b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({ contents: "export default {};", loader: "js" }));
  },
};

async function build() {
  const esbuild = await import("esbuild");
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(join(dist, "static"), { recursive: true });
  const common = {
    absWorkingDir: here,
    entryNames: "[name]-[hash]",
    outdir: join(dist, "static"),
    bundle: true,
    minify: true,
    format: "iife",
    platform: "browser",
    target: ["chrome110", "firefox115", "safari16"],
    legalComments: "eof",
    metafile: true,
    logLevel: "warning",
    charset: "utf8",
  };
  // The E2EE transform worker is a script of its own (the CSP allows no
  // blob: workers); the app learns its hashed name as __E2EE_WORKER_URL__.
  const worker = await esbuild.build({ ...common, entryPoints: { "e2ee-worker": "src/e2ee/worker.ts" } });
  const workerURL = "/" + relative(dist, join(here, Object.keys(worker.metafile.outputs).find((p) => p.endsWith(".js")))).split(sep).join("/");
  const result = await esbuild.build({
    ...common,
    define: { __E2EE_WORKER_URL__: JSON.stringify(workerURL) },
    entryPoints: { app: "src/main.ts", style: "src/style.css" },
    plugins: [noNodeDNS],
  });
  const rel = (p) => relative(dist, join(here, p)).split(sep).join("/");
  const js = Object.keys(result.metafile.outputs).map(rel).find((p) => p.endsWith(".js"));
  const css = Object.keys(result.metafile.outputs).map(rel).find((p) => p.endsWith(".css"));
  const out = [...Object.keys(worker.metafile.outputs), ...Object.keys(result.metafile.outputs)].map(rel);
  const html = readFileSync(join(here, "src/index.html"), "utf8").replace("{{JS}}", "/" + js).replace("{{CSS}}", "/" + css);
  writeFileSync(join(dist, "index.html"), html);
  copyFileSync(join(here, "src/favicon.svg"), join(dist, "static/favicon.svg"));
  writeFileSync(hashFile, sourcesHash() + "\n");
  const outputs = { ...worker.metafile.outputs, ...result.metafile.outputs };
  for (const p of out) console.log(`dist/${p}  ${(outputs[relative(here, join(dist, p)).split(sep).join("/")]?.bytes ?? 0) / 1024 | 0} KiB`);
}

function check() {
  const want = sourcesHash();
  const have = existsSync(hashFile) ? readFileSync(hashFile, "utf8").trim() : "(missing)";
  if (want !== have) {
    console.error(`web/dist is stale (sources ${want}, bundle built from ${have}): run make web`);
    process.exit(1);
  }
  console.log("web/dist matches the sources");
}

async function test() {
  const run = (cmd, args) => {
    const r = spawnSync(cmd, args, { cwd: here, stdio: "inherit" });
    if (r.status !== 0) process.exit(r.status ?? 1);
  };
  const tsc = join(here, "node_modules/typescript/bin/tsc");
  run(process.execPath, [tsc, "-p", "."]); // the client, without node's types
  run(process.execPath, [tsc, "-p", "test"]); // the tests, with them
  const esbuild = await import("esbuild");
  const outdir = join(here, ".test-out");
  rmSync(outdir, { recursive: true, force: true });
  const tests = readdirSync(join(here, "test")).filter((f) => f.endsWith(".test.ts"));
  await esbuild.build({
    absWorkingDir: here,
    entryPoints: tests.map((f) => "test/" + f),
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
  run(process.execPath, ["--test", ...tests.map((f) => join(outdir, f.replace(/\.ts$/, ".mjs")))]);
}

const mode = process.argv[2] ?? "";
if (mode === "--check") check();
else if (mode === "--test") await test();
else if (mode === "") await build();
else {
  console.error("usage: node build.mjs [--check | --test]");
  process.exit(2);
}
