// Bundles the CLI and the daemon with esbuild: one file to parse at start instead
// of dozens of modules, which is most of `pier version`'s start-up time after Node's own.
// Command modules stay lazily loaded chunks (splitting), so a command loads only its code.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync(new URL('../dist/chunks', import.meta.url), { recursive: true, force: true }); // no stale chunks
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short=7', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {
  /* not a git checkout */
}

await build({
  entryPoints: { pier: 'src/cli/main.ts', pierd: 'src/daemon/main.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: 'dist',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  external: ['better-sqlite3'],
  // CommonJS dependencies (tar-stream's) call require() for Node built-ins; ESM output has none.
  banner: { js: "import { createRequire as __pierCreateRequire } from 'node:module'; const require = __pierCreateRequire(import.meta.url);" },
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { PIER_VERSION: JSON.stringify(pkg.version), PIER_COMMIT: JSON.stringify(commit), PIER_BUILT: JSON.stringify(new Date().toUTCString()) },
});
