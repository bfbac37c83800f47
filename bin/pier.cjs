#!/usr/bin/env node
// The `pier` CLI launcher. Runs the CommonJS bundle (dist/pier.cjs) through a V8 code
// cache kept beside it, so start-up costs little more than Node's own; falls back to
// tsc's output when the bundle is not built.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const bundle = path.join(__dirname, '..', 'dist', 'pier.cjs');
if (!fs.existsSync(bundle)) {
  import(path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js'));
} else {
  const vm = require('node:vm');
  const Module = require('node:module');
  const cacheFile = bundle + '.cache';
  let cached;
  try {
    cached = fs.readFileSync(cacheFile);
  } catch {
    /* first run: no cache yet */
  }
  const script = new vm.Script(Module.wrap(fs.readFileSync(bundle, 'utf8')), { filename: bundle, cachedData: cached });
  if (!cached || script.cachedDataRejected) {
    // Written at exit, so the cache also holds the functions this run compiled.
    process.once('exit', () => {
      try {
        fs.writeFileSync(cacheFile, script.createCachedData());
      } catch {
        /* a read-only install runs without a cache */
      }
    });
  }
  const m = { exports: {} };
  script.runInThisContext().call(m.exports, m.exports, require, m, bundle, path.dirname(bundle));
}
