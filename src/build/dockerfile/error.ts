import { EngineError } from '../../base/errdefs.js';

/**
 * A Dockerfile that Docker would refuse. The message is dockerd's own, word for
 * word, so API clients see what the classic builder sends:
 *
 *   failed to parse Dockerfile: only one escape parser directive can be used
 *   dockerfile parse error on line 3: unknown instruction: FORM (did you mean FROM?)
 *   failed to process "${x": syntax error: missing '}'
 *
 * Docker puts the line into the message only for instruction errors; here
 * every error also carries where it is (`file`, `line`..`endLine`, 1-based)
 * and the offending text, so logs and the CLI can say `Dockerfile:3`.
 */
export class DockerfileError extends EngineError {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
    readonly endLine: number,
    /** The lines line..endLine as written. */
    readonly source: string,
    options?: ErrorOptions,
  ) {
    super('invalid', message, options);
    this.name = 'DockerfileError';
  }

  /** "Dockerfile:3" or "Dockerfile:3-5". */
  get where(): string {
    return this.endLine > this.line ? `${this.file}:${this.line}-${this.endLine}` : `${this.file}:${this.line}`;
  }
}

/** Where an instruction came from; what errors about it point at. */
export interface SourceSpan {
  file: string;
  startLine: number;
  endLine: number;
  source: string;
}

export const errorAt = (span: SourceSpan, message: string, cause?: unknown) =>
  new DockerfileError(message, span.file, span.startLine, span.endLine, span.source, cause === undefined ? undefined : { cause });
