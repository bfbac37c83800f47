// `pier system dial-stdio`: joins this process's stdin/stdout to the daemon's
// socket, byte for byte. It is what an ssh:// host runs on the far side
// (`ssh user@host pier system dial-stdio`), as docker's own command of that name.

import { StatusError, type CommandDef, type Ctx } from '../command.js';

async function runDialStdio(ctx: Ctx): Promise<number> {
  const { stdin, stdout } = ctx.io;
  const conn = ctx.client().dialRaw();
  return new Promise((resolve, reject) => {
    let connected = false;
    // Connected means past the TLS handshake too, when the daemon is reached over TLS.
    conn.once((conn as { encrypted?: boolean }).encrypted ? 'secureConnect' : 'connect', () => (connected = true));
    conn.on('error', (e: NodeJS.ErrnoException) => {
      if (!connected) reject(new StatusError(1, `Cannot connect to the Pier daemon at ${ctx.host}: ${e.message}`));
      else resolve(0); // the daemon hung up: the stream is over
    });
    // Input ends → half-close, so the daemon still answers what was asked.
    stdin.on('end', () => conn.end());
    stdin.pipe(conn, { end: false });
    conn.pipe(stdout);
    conn.on('close', () => resolve(0));
    stdout.on('error', () => conn.destroy());
  });
}

export const commands: Record<string, CommandDef> = {
  'dial-stdio': { use: 'dial-stdio', flags: [], run: runDialStdio },
};
