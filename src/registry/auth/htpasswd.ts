/**
 * An htpasswd file of bcrypt hashes (`htpasswd -B`), as Docker's registry
 * accepts: `user:$2y$05$...` per line, '#' comments and blank lines ignored.
 *
 * bcrypt comes from `bcryptjs`, a widely used pure-JS implementation: no native
 * build to carry, and its async compare yields to the event loop between rounds
 * so one login does not stall the registry. A bcrypt check costs ~50–100 ms at
 * the usual cost 10, and Docker sends credentials on every token request, so a
 * successful check is remembered briefly (keyed by an HMAC of user and password
 * under a per-process secret, so the cache never holds a password).
 *
 * The file is re-read when its mtime changes (checked at most once a second);
 * a file that no longer parses keeps the previous table and logs why.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import { EngineError, invalid, messageOf } from '../../base/errdefs.js';
import { nullLogger, type Logger } from '../../base/log.js';

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 1024;
const RECHECK_MS = 1000;

/** Names the hash scheme of a non-bcrypt htpasswd entry, for the load error. */
function schemeOf(hash: string): string {
  if (hash.startsWith('$apr1$')) return 'MD5 ($apr1$)';
  if (hash.startsWith('{SHA}')) return 'SHA-1 ({SHA})';
  if (hash.startsWith('$5$')) return 'SHA-256 crypt ($5$)';
  if (hash.startsWith('$6$')) return 'SHA-512 crypt ($6$)';
  if (hash.startsWith('$2')) return 'malformed bcrypt';
  if (hash === '') return 'empty hash';
  return hash.length === 13 ? 'DES crypt' : 'plain text or unknown';
}

/** Parses htpasswd text into user → bcrypt hash. The first entry of a user wins, as in Apache. */
export function parseHtpasswd(text: string, path = 'htpasswd'): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw invalid(`${path} line ${i + 1}: expected "user:bcrypt-hash"`);
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (!BCRYPT.test(hash)) {
      throw invalid(
        `${path} line ${i + 1} (user "${user}"): unsupported password hash, ${schemeOf(hash)}; ` +
          'only bcrypt ($2y$/$2b$/$2a$) is supported: create entries with "htpasswd -B"',
      );
    }
    if (!users.has(user)) users.set(user, hash);
  });
  return users;
}

export class Htpasswd {
  private readonly secret = randomBytes(32);
  private readonly verified = new Map<string, number>(); // hmac(user, password) → expiry (ms)
  private checkedAt = 0;

  private constructor(
    readonly path: string,
    private users: Map<string, string>,
    private mtimeMs: number,
    private readonly log: Logger,
  ) {}

  /** Reads and parses the file; a missing file or a non-bcrypt line is an error naming it. */
  static async open(path: string, o: { log?: Logger } = {}): Promise<Htpasswd> {
    const { text, mtimeMs } = await read(path);
    return new Htpasswd(path, parseHtpasswd(text, path), mtimeMs, o.log ?? nullLogger);
  }

  get size(): number {
    return this.users.size;
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  /** Whether `password` is `user`'s. Unknown users cost a bcrypt check too, so timing does not reveal them. */
  async verify(user: string, password: string): Promise<boolean> {
    await this.reloadIfChanged();
    const key = createHmac('sha256', this.secret).update(user).update('\0').update(password).digest('base64');
    const now = Date.now();
    const until = this.verified.get(key);
    if (until !== undefined && until > now && this.users.has(user)) return true;
    const hash = this.users.get(user);
    const ok = await bcrypt.compare(password, hash ?? (await dummyHash()));
    if (!ok || hash === undefined) return false;
    this.verified.delete(key); // re-insert at the end: Map order is the eviction order
    this.verified.set(key, now + CACHE_TTL_MS);
    if (this.verified.size > CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
    return true;
  }

  private async reloadIfChanged(): Promise<void> {
    const now = Date.now();
    if (now - this.checkedAt < RECHECK_MS) return;
    this.checkedAt = now;
    try {
      const st = await stat(this.path);
      if (st.mtimeMs === this.mtimeMs) return;
      const { text, mtimeMs } = await read(this.path);
      this.users = parseHtpasswd(text, this.path);
      this.mtimeMs = mtimeMs;
      this.verified.clear();
      this.log.info({ path: this.path, users: this.users.size }, 'htpasswd reloaded');
    } catch (e) {
      this.log.error({ path: this.path, err: messageOf(e) }, 'htpasswd reload failed; keeping the previous users');
    }
  }
}

// A valid hash of a random password, compared against for unknown users; made on first need, not at import.
let dummy: Promise<string> | undefined;
const dummyHash = (): Promise<string> => (dummy ??= bcrypt.hash(randomBytes(16).toString('hex'), 10));

async function read(path: string): Promise<{ text: string; mtimeMs: number }> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { text, mtimeMs: st.mtimeMs };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : messageOf(e);
    throw new EngineError('invalid', `htpasswd file ${path}: ${why}`, { cause: e });
  }
}
