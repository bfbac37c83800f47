/**
 * The Dockerfile front end as the builder sees it: the text parsed
 * (dockerfile/parser.ts) and split into typed instructions and stages
 * (dockerfile/instructions.ts), with the ARGs before the first FROM as the
 * global build args.
 */
import { parse } from './dockerfile/parser.js';
import { toStages, type InstructionOf, type Stage } from './dockerfile/instructions.js';

export type { Instruction, Stage } from './dockerfile/instructions.js';

export function planDockerfile(text: string, file: string): { stages: Stage[]; metaArgs: InstructionOf<'ARG'>[]; warnings: string[] } {
  const parsed = parse(text, { file });
  const { stages, metaArgs } = toStages(parsed);
  return { stages, metaArgs, warnings: parsed.warnings.map((w) => w.message) };
}
