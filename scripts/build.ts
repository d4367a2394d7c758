/**
 * Builds the package (npm run build, and before npm pack): dist/ holds the JavaScript and type
 * declarations compiled from the TypeScript sources (tsconfig.build.json), dist/console/ the local
 * console's page bundled, and dist/vendor/ the two
 * emulators the local stack runs, bundled WITH the fixes in patches/: an installed stepbatch cannot
 * patch its users' node_modules, so it carries the patched code itself.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { build, type Plugin } from "esbuild";
import { PACKAGE_ROOT } from "../infra/paths.ts";
import { CONSOLE_BUNDLE } from "../local/console-assets.ts";

const DIST = join(PACKAGE_ROOT, "dist");

/** The emulators, and the packages they load at run time (native or shared, installed beside stepbatch). */
const VENDORED = {
  dynalite: { external: ["level", "memory-level"] },
  s3rver: { external: [] as string[] },
};

/**
 * dynalite loads its actions with `require('./actions/' + action)`, which a bundle cannot follow:
 * the plugin turns each such require into a lookup in a table of plain requires of every file there.
 */
const staticRequires: Plugin = {
  name: "static-requires",
  setup(builder) {
    builder.onLoad({ filter: /[\\/]dynalite[\\/]index\.js$/ }, (args) => {
      let contents = readFileSync(args.path, "utf8");
      for (const folder of ["actions", "validations"]) {
        const dynamic = `require('./${folder}/' + action)`;
        if (!contents.includes(dynamic)) throw new Error(`dynalite no longer has ${dynamic}`);
        const names = readdirSync(join(dirname(args.path), folder))
          .filter((file) => file.endsWith(".js"))
          .map((file) => file.slice(0, -3));
        const table = names.map(
          (n) => `${JSON.stringify(n)}: () => require("./${folder}/${n}.js")`,
        );
        contents = contents.replace(dynamic, `({${table.join(",")}})[action]()`);
      }
      return { contents, loader: "js" };
    });
  },
};

rmSync(DIST, { recursive: true, force: true });
// typescript exports no bin path: its package.json does, and bin/tsc sits beside it.
const tsc = join(
  dirname(createRequire(import.meta.url).resolve("typescript/package.json")),
  "bin",
  "tsc",
);
execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
  cwd: PACKAGE_ROOT,
  stdio: "inherit",
});

// The console's page script and styles, bundled once: the installed local stack serves them as they are.
await build({ ...CONSOLE_BUNDLE, absWorkingDir: PACKAGE_ROOT, outdir: join(DIST, "console") });

for (const [name, { external }] of Object.entries(VENDORED)) {
  await build({
    entryPoints: [name],
    absWorkingDir: PACKAGE_ROOT,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node24",
    external,
    plugins: [staticRequires],
    outfile: join(DIST, "vendor", `${name}.cjs`),
    logLevel: "error",
    legalComments: "inline",
  });
}

// The compiled local stack imports the vendored emulators instead of the unpatched packages.
const emulators = join(DIST, "local", "emulators.js");
let text = readFileSync(emulators, "utf8");
for (const name of Object.keys(VENDORED)) {
  const from = `from "${name}";`;
  if (!text.includes(from))
    throw new Error(`${emulators} no longer imports ${name}: update the build`);
  text = text.replace(from, `from "../vendor/${name}.cjs";`);
}
writeFileSync(emulators, text);
console.log(`stepbatch: built ${DIST}`);
