/** pierd's entry point: parse the config, start the daemon, reload it on SIGHUP, stop cleanly on SIGTERM/SIGINT. */
import { Logger } from '../base/log.js';
import { messageOf } from '../base/errdefs.js';
import { parseDaemonArgs, USAGE } from './config.js';
import { Daemon } from './daemon.js';
import { PIER_VERSION, GIT_COMMIT } from '../engine/system.js';

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = parseDaemonArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`pierd: ${messageOf(e)}\n`);
    process.exit(1);
  }
  if (cfg === 'help') return void process.stdout.write(USAGE);
  if (cfg === 'version') return void process.stdout.write(`Pier version ${PIER_VERSION}, build ${GIT_COMMIT}\n`);
  const log = new Logger(process.stderr, cfg.logLevel, {}, cfg.logFormat);
  const daemon = new Daemon(cfg, log);
  try {
    await daemon.start();
  } catch (e) {
    log.error({ err: messageOf(e) }, 'failed to start daemon');
    await daemon.stop().catch(() => {});
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took more than 15s; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    daemon.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: messageOf(e) }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  // SIGHUP: read the flags and the file again and apply what can change while running (reload.ts).
  // A configuration that does not parse changes nothing: the daemon goes on with the one it has.
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      if (stopping) return;
      log.info({ configFile: daemon.cfg.configFile ?? '' }, 'got SIGHUP, reloading the configuration');
      let next;
      try {
        next = parseDaemonArgs(process.argv.slice(2));
      } catch (e) {
        log.error({ err: messageOf(e) }, 'configuration not reloaded, the running configuration is kept');
        return;
      }
      if (typeof next === 'string') return;
      try {
        await daemon.reload(next);
      } catch (e) {
        log.error({ err: messageOf(e) }, 'configuration reload failed');
      }
    });
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGPIPE', () => {});
  // A reader of our log that went away (EPIPE) must not turn every later log line into an uncaught exception.
  for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
  // The daemon never dies of one request's mistake: log and carry on.
  process.on('uncaughtException', (e) => log.error({ err: messageOf(e), stack: (e as Error).stack }, 'uncaught exception'));
  process.on('unhandledRejection', (e) => log.error({ err: messageOf(e) }, 'unhandled rejection'));
}

void main();
