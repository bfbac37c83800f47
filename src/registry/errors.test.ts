import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, asRegistryError, errorBody, regErr } from './errors.js';

describe('registry errors', () => {
  it('maps each spec code to its status in one table', () => {
    const want: Record<string, number> = {
      BLOB_UNKNOWN: 404, BLOB_UPLOAD_INVALID: 400, BLOB_UPLOAD_UNKNOWN: 404, DIGEST_INVALID: 400, MANIFEST_BLOB_UNKNOWN: 400,
      MANIFEST_INVALID: 400, MANIFEST_UNKNOWN: 404, NAME_INVALID: 400, NAME_UNKNOWN: 404, SIZE_INVALID: 400, UNAUTHORIZED: 401,
      DENIED: 403, UNSUPPORTED: 405, TOOMANYREQUESTS: 429, RANGE_INVALID: 416,
    };
    for (const [code, status] of Object.entries(want)) assert.equal(ERROR_CODES[code as keyof typeof ERROR_CODES].status, status, code);
    for (const [code, e] of Object.entries(ERROR_CODES)) {
      assert.match(code, /^[A-Z_]+$/);
      assert.ok(e.description.length > 0);
    }
  });

  it('writes the spec body, with the description as the default message', () => {
    assert.deepEqual(JSON.parse(errorBody(regErr('BLOB_UNKNOWN'))), { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: {} }] });
    const e = regErr('MANIFEST_INVALID', 'manifest too large', { status: 413, detail: { limit: 1 } });
    assert.equal(e.status, 413);
    assert.deepEqual(JSON.parse(errorBody(e)).errors[0], { code: 'MANIFEST_INVALID', message: 'manifest too large', detail: { limit: 1 } });
  });

  it('turns anything else into UNKNOWN 500', () => {
    const e = asRegistryError(new Error('disk on fire'));
    assert.equal(e.code, 'UNKNOWN');
    assert.equal(e.status, 500);
    assert.equal(e.message, 'disk on fire');
  });
});
