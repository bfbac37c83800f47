// Keeps imports flowing one way (docs/architecture.md):
//   base ← image, archive, snapshot, runtime, volume, network ← layer ← build, distribution ← engine ← api ← daemon;
//   service (swarm objects, controller, load balancer) → base, image, network; engine → service, client (a daemon is a client of other daemons);
//   registry (the server) → base, image;  cli → client, base, image/reference, build/dockerignore (pure modules).
// Exits 1 naming each import that goes against the flow.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

const SRC = resolve(new URL('../src', import.meta.url).pathname);
/** For each top-level package, the packages it may import from (besides itself). */
const ALLOWED = {
  base: [],
  image: ['base', 'archive', 'runtime/container-config'],
  archive: ['base'],
  snapshot: ['base'],
  volume: ['base'],
  network: ['base'],
  build: ['base', 'image', 'archive', 'runtime/container-config'],
  runtime: ['base'],
  layer: ['base', 'image', 'archive', 'snapshot'],
  distribution: ['base', 'image', 'archive', 'layer'],
  registry: ['base', 'image'],
  service: ['base', 'image', 'network', 'runtime/container-config'],
  engine: ['base', 'image', 'archive', 'snapshot', 'layer', 'runtime', 'volume', 'network', 'build', 'distribution', 'service', 'client'],
  api: ['base', 'image', 'archive', 'runtime', 'engine', 'distribution', 'network/types', 'volume/volume', 'service/types'],
  daemon: ['base', 'image', 'archive', 'snapshot', 'layer', 'runtime', 'engine', 'api', 'distribution', 'volume', 'network', 'service', 'client'],
  client: ['base'],
  cli: ['base', 'client', 'image/reference', 'image/oci', 'registry/main', 'build/dockerignore'],
};

const files = [];
const walk = (d) => {
  for (const n of readdirSync(d)) {
    const p = join(d, n);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('testsuite.ts')) files.push(p);
  }
};
walk(SRC);

const bad = [];
for (const f of files) {
  const from = relative(SRC, f).split('/')[0];
  const allowed = ALLOWED[from];
  if (!allowed) continue;
  for (const m of readFileSync(f, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*from\s+['"](\.[^'"]+)['"]/gm)) {
    const target = relative(SRC, resolve(dirname(f), m[1])).replace(/\.js$/, '');
    const to = target.split('/')[0];
    if (to === from || to.startsWith('..')) continue;
    if (!allowed.some((a) => target === a || target.startsWith(a + '/') || to === a)) bad.push(`${relative(SRC, f)} imports ${target}`);
  }
}
if (bad.length) {
  console.error(`imports against the layering:\n  ${bad.join('\n  ')}`);
  process.exit(1);
}
console.log(`imports ok (${files.length} files)`);
