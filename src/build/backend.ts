/**
 * What the builder needs from the engine, and nothing more: images to start
 * from, containers to run RUN steps in and to put COPY/ADD files into, and
 * commits of either into new images. engine/build.ts implements it on the
 * real container and image services; the builder never touches them directly
 * (build sits below engine in the layering).
 *
 * Lifecycle of a step: create → (start and stream its output → exit code) or
 * files (look and put, one mount) → commit → remove. A config-only step (ENV, LABEL, CMD, …) is one
 * `configOnly` call: same layers, new config and history entry.
 */
import type { Readable } from 'node:stream';
import type { ContainerConfig, HostConfig } from '../runtime/container-config.js';
import type { ImageConfig } from '../image/oci.js';

export interface BuildImage {
  id: string;
  config: ImageConfig;
}

export interface BuildBackend {
  /** A local image by reference or ID; pulled when missing, or always with `pull`. */
  image(ref: string, o: { pull: boolean; platform?: string; progress: (line: string) => void; signal?: AbortSignal }): Promise<BuildImage>;
  /** The config of an image built in this run (or any local one) by ID. */
  config(id: string): Promise<ImageConfig>;
  /** A container made from `image` (not started). */
  create(image: string, config: ContainerConfig, host: HostConfig): Promise<string>;
  /** Starts it, streams its combined output, resolves with the exit code once it exited. */
  run(container: string, output: (chunk: Buffer) => void, signal?: AbortSignal): Promise<number>;
  /** A new image from the container's changes over its image, with `config` and a history line. */
  commit(container: string, config: ContainerConfig, createdBy: string): Promise<string>;
  /** A new image with the parent's layers and a new config (history marks it empty_layer). */
  configOnly(parent: string, config: ContainerConfig, createdBy: string): Promise<string>;
  remove(container: string): Promise<void>;
  /** Runs fn with the container's root file system mounted on the host (COPY --from reads it there). */
  withRootfs<T>(container: string, fn: (dir: string) => Promise<T>): Promise<T>;
  /**
   * Runs fn with the container's file system open once (one mount for all of
   * a COPY, ADD or WORKDIR step's looks and writes).
   */
  files<T>(container: string, fn: (f: ContainerFiles) => Promise<T>): Promise<T>;
  /** FROM scratch's first layer: fn runs with a container of an empty file system; its commit is the stage's first image. */
  fromScratch(config: ContainerConfig, fn: (container: string) => Promise<string>): Promise<string>;

  tag(image: string, ref: string): void;
}

/** A container's file system, open for one step (BuildBackend.files). */
export interface ContainerFiles {
  /** --chown's user and group, looked up in the container's /etc/passwd and /etc/group. */
  ids(spec: string): Promise<{ uid: number; gid: number }>;
  /** Which of these absolute paths are directories. */
  dirs(paths: string[]): Promise<Set<string>>;
  /** Extracts a tar at `path` (scoped: nothing lands outside the root). */
  put(path: string, tar: Readable): Promise<void>;
}
