/**
 * DistributionService: the registry client behind the Engine API's
 * `POST /images/create?fromImage=`, `POST /images/{name}/push` and
 * `POST /auth`. Built once by the daemon from its config:
 *
 *   const dist = new DistributionService(images, { insecureRegistries, mirrors, maxConcurrentDownloads: 3, maxConcurrentUploads: 5 }, dataRoot, log);
 *   await dist.pull('busybox', 'latest', { progress, auth, signal });
 */
import { join } from 'node:path';
import { isDigest } from '../base/digest.js';
import { invalid } from '../base/errdefs.js';
import type { Logger } from '../base/log.js';
import type { Platform } from '../image/oci.js';
import { parseReference, trimNamed, withTag, type Reference } from '../image/reference.js';
import { authConfigOf, type AuthConfig } from './auth.js';
import { Registries } from './client.js';
import { CompressedBlobs } from './compressed.js';
import { Puller } from './pull.js';
import { Pusher } from './push.js';
import type { RegistryConfig } from './resolve.js';
import type { ImageSink } from './store.js';
import type { Progress } from './transfer.js';

export interface DistributionConfig extends RegistryConfig {
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
}

export class DistributionService {
  private readonly registries: Registries;
  private readonly puller: Puller;
  private readonly pusher: Pusher;

  constructor(images: ImageSink, cfg: DistributionConfig, dataRoot: string, log: Logger) {
    this.registries = new Registries(cfg, log);
    // Read from `cfg` at each use: a config reload (SIGHUP) changes mirrors, insecure registries and limits in place.
    this.puller = new Puller(images, this.registries, { get downloads() { return cfg.maxConcurrentDownloads; } }, log);
    this.pusher = new Pusher(images, this.registries, new CompressedBlobs(join(dataRoot, 'distribution', 'compressed'), images), { get uploads() { return cfg.maxConcurrentUploads; } }, log);
  }

  /**
   * `fromImage` and `tag` as the API gives them: the tag may be a digest, and
   * a name with neither tag nor digest pulls every tag (the CLI's `-a`).
   */
  async pull(fromImage: string, tag: string | undefined, o: { platform?: Platform; auth?: AuthConfig; signal?: AbortSignal; progress: Progress }): Promise<void> {
    let ref = parseReference(fromImage);
    if (tag) ref = isDigest(tag) ? { ...trimNamed(ref), digest: tag } : withTag(ref, tag);
    await this.puller.pull(ref, o);
  }

  /** `name` may carry the tag itself (old clients); an empty tag pushes every tag of the repository. */
  async push(name: string, tag: string | undefined, o: { auth?: AuthConfig; signal?: AbortSignal; progress: Progress }): Promise<void> {
    let ref: Reference = parseReference(name);
    if (tag) ref = withTag(trimNamed(ref), tag);
    await this.pusher.push(ref, o);
  }

  /** POST /auth: checks the credentials against the registry. */
  async login(body: unknown, signal?: AbortSignal): Promise<{ Status: string; IdentityToken: string }> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('the request body must be a JSON object with username, password and serveraddress');
    const auth = authConfigOf(body as Record<string, unknown>);
    await this.registries.login(auth, signal);
    return { Status: 'Login Succeeded', IdentityToken: '' };
  }
}
