// Builds the demo into ../graphql_repl/static/demo/ (or --outdir DIR): index.html,
// style.css, one bundled, minified app.js, and the licences of the packages bundled in it
// (read from esbuild's list of inputs). The output depends only on src/ and the locked
// packages, so a build from the lockfile reproduces the committed files exactly.
import { build } from "esbuild";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const flag = process.argv.indexOf("--outdir");
const outdir = resolve(flag > 0 ? process.argv[flag + 1] : join(here, "../graphql_repl/static/demo"));

// RxDB's GraphQL plugin imports a schema generator (graphQLSchemaFromRxSchema) next to the
// query builders; the board never calls it, and as a CommonJS package it is not tree-shaken.
const unused = {
  name: "unused",
  setup(build) {
    build.onResolve({ filter: /^get-graphql-from-jsonschema$/ }, ({ path }) => ({ path, namespace: "unused" }));
    build.onLoad({ filter: /.*/, namespace: "unused" }, ({ path }) => ({
      contents: `export function getGraphqlSchemaFromJsonSchema() { throw new Error("${path} is not bundled"); }`,
    }));
  },
};

await mkdir(outdir, { recursive: true });
for (const name of await readdir(outdir)) await rm(join(outdir, name), { recursive: true });
const { metafile } = await build({
  entryPoints: [join(here, "src/main.js")],
  outfile: join(outdir, "app.js"),
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  metafile: true,
  plugins: [unused],
  logLevel: "warning",
});
for (const name of ["index.html", "style.css"]) await copyFile(join(here, "src", name), join(outdir, name));

// The package directory of every bundled input: node_modules/<name> or node_modules/@scope/<name>.
const packages = new Set();
for (const input of Object.keys(metafile.inputs)) {
  const match = input.match(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//g);
  if (match) packages.add(match.at(-1).replace(/^\//, "").slice(0, -1));
}
const notices = [];
for (const dir of [...packages].sort()) {
  const { name, version, license } = JSON.parse(await readFile(join(here, dir, "package.json"), "utf8"));
  const file = (await readdir(join(here, dir))).find((f) => /^licen[cs]e/i.test(f));
  const text = file ? await readFile(join(here, dir, file), "utf8") : `License: ${license}\n`;
  notices.push(`${name} ${version} (${license})\n\n${text.trim()}\n`);
}
await writeFile(join(outdir, "THIRD_PARTY_LICENSES.txt"), notices.join("\n\n"));
console.log(`built ${outdir}: ${[...packages].length} packages bundled`);
