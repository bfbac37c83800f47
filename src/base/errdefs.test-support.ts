/**
 * For tests: an `assert.throws`/`assert.rejects` check that the error is an
 * EngineError of this kind, and (when given) with this message (a string
 * must match whole, a RegExp anywhere).
 *
 *   await assert.rejects(svc.create(bad), engineError('invalid', /replicas/));
 */
import assert from 'node:assert/strict';
import { EngineError, type ErrorKind } from './errdefs.js';

export const engineError = (kind: ErrorKind, message?: string | RegExp) => (e: unknown): true => {
  assert.ok(e instanceof EngineError, `an EngineError, got ${String(e)}`);
  assert.equal(e.kind, kind, e.message);
  if (typeof message === 'string') assert.equal(e.message, message);
  else if (message) assert.match(e.message, message);
  return true;
};
