// Entry point of the `pier` CLI. Kept tiny: everything else loads on demand.

import type { IO } from './command.js';
import { runCli } from './app.js';

// `pier images | head -1` closes the pipe early; that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const io: IO = {
  // process.stdin is created on first access; most commands never read it.
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
};

void runCli(process.argv.slice(2), io).then((code) => {
// stdout/stderr writes to files, pipes and terminals are synchronous on Linux,
// so nothing is lost by exiting right away (keep-alive sockets would linger).
  process.exit(code);
});
