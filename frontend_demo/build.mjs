// Builds the demo into ../graphql_repl/static/demo/ (or --outdir DIR): index.html,
// style.css, one bundled, minified app.js, and the licence of the code bundled in it. The output depends only on src/ and the
// locked packages, so a build from the lockfile reproduces the committed files exactly.
import { build } from "esbuild";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const flag = process.argv.indexOf("--outdir");
const outdir = resolve(flag > 0 ? process.argv[flag + 1] : join(here, "../graphql_repl/static/demo"));

await mkdir(outdir, { recursive: true });
for (const name of await readdir(outdir)) await rm(join(outdir, name), { recursive: true });
await build({
  entryPoints: [join(here, "src/main.js")],
  outfile: join(outdir, "app.js"),
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  logLevel: "warning",
});
for (const name of ["index.html", "style.css"]) await copyFile(join(here, "src", name), join(outdir, name));
const bundled = ["graphql-ws"];
const notices = await Promise.all(
  bundled.map(async (name) => `${name}\n\n${await readFile(join(here, "node_modules", name, "LICENSE.md"), "utf8")}`),
);
await writeFile(join(outdir, "THIRD_PARTY_LICENSES.txt"), notices.join("\n"));
console.log(`built ${outdir}`);
