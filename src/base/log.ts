/**
 * Structured logger: one JSON object per line (or logfmt-like text on a TTY),
 * with levels and inherited fields. `child({component})` adds fields.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, fatal: 50 };
export const LEVELS = Object.keys(ORDER) as Level[];

export interface Sink {
  write(line: string): void;
}

export class Logger {
  /** Shared by a logger and all its children, so that setLevel (a config reload) reaches every component. */
  private readonly lvl: { level: Level };
  constructor(
    private readonly sink: Sink = process.stderr,
    level: Level | { level: Level } = 'info',
    private readonly fields: Record<string, unknown> = {},
    private readonly format: 'json' | 'text' = 'json',
  ) {
    this.lvl = typeof level === 'string' ? { level } : level;
  }

  child(fields: Record<string, unknown>): Logger {
    return new Logger(this.sink, this.lvl, { ...this.fields, ...fields }, this.format);
  }
  /** Changes the level of this logger, its parent and all their children. */
  setLevel(level: Level): void {
    this.lvl.level = level;
  }
  get level(): Level {
    return this.lvl.level;
  }
  enabled(level: Level): boolean {
    return ORDER[level] >= ORDER[this.lvl.level];
  }
  debug(f: Record<string, unknown> | string, msg?: string): void { this.emit('debug', f, msg); }
  info(f: Record<string, unknown> | string, msg?: string): void { this.emit('info', f, msg); }
  warn(f: Record<string, unknown> | string, msg?: string): void { this.emit('warn', f, msg); }
  error(f: Record<string, unknown> | string, msg?: string): void { this.emit('error', f, msg); }

  private emit(level: Level, f: Record<string, unknown> | string, msg?: string): void {
    if (!this.enabled(level)) return;
    const extra = typeof f === 'string' ? {} : f;
    const text = typeof f === 'string' ? f : (msg ?? '');
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level, msg: text, ...this.fields, ...extra };
    for (const [k, v] of Object.entries(rec)) if (v instanceof Error) rec[k] = v.message;
    if (this.format === 'json') {
      this.sink.write(JSON.stringify(rec) + '\n');
    } else {
      const rest = Object.entries(rec)
        .filter(([k]) => !['time', 'level', 'msg'].includes(k))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v)}`)
        .join(' ');
      this.sink.write(`${rec.time} ${level.toUpperCase().padEnd(5)} ${text}${rest ? ' ' + rest : ''}\n`);
    }
  }
}

/** A logger that drops everything, for unit tests and library use. */
export const nullLogger = new Logger({ write() {} }, 'fatal');
