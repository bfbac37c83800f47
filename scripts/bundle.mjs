// Bundles the CLI and the daemon with esbuild.
// The CLI is one CommonJS file (dist/pier.cjs): Node loads CommonJS faster than a graph of
// ES modules, and bin/pier.cjs runs it with a V8 code cache, so `pier` starts ~2 ms after
// Node itself (measured in docs/benchmarks.md). The daemon is ESM with lazily loaded chunks.
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

const define = { PIER_VERSION: JSON.stringify(pkg.version), PIER_COMMIT: JSON.stringify(commit), PIER_BUILT: JSON.stringify(new Date().toUTCString()) };

const jobs = [];
jobs.push(build({
  entryPoints: ['src/cli/main.ts'],
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outfile: 'dist/pier.cjs',
  // app.ts reaches the registry bundle through __dirname when bundled, import.meta only when not.
  logOverride: { 'empty-import-meta': 'silent' },
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  define,
}));
rmSync(new URL('../dist/pier.cjs.cache', import.meta.url), { force: true });

// `pier registry`: its own CommonJS bundle, required by the CLI only for that command.
jobs.push(build({
  entryPoints: ['src/registry/main.ts'],
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outfile: 'dist/registry.cjs',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  define,
}));

jobs.push(build({
  entryPoints: { pierd: 'src/daemon/main.ts' },
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
  define,
}));
// Each bundle is built even when another fails, so one broken entry point does not leave the others stale.
const failed = (await Promise.allSettled(jobs)).filter((r) => r.status === 'rejected');
if (failed.length) process.exit(1);
