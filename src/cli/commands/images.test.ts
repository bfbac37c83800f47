import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryItem, ImageSummary } from '../../client/types.js';
import { formatRows } from '../formatter.js';
import { historyFormat, historyHeaders, historyRows, imageFormat, imageHeaders, imageRows } from './images.js';

const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);
const at = (agoMs: number) => Math.floor((NOW - agoMs) / 1000);
const ID1 = 'sha256:f23c40f8cbebb8d406c6a1b503746b0ecbfb912ced8ff6d281434aeb8eaa8617';
const ID2 = 'sha256:82c8ac7c1ebc236fb79abf0c874c6a9fdc6802807c9de668252a80d90db1252d';
const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

const img = (o: Partial<ImageSummary>): ImageSummary => ({
  Id: ID1, ParentId: '', RepoTags: [], RepoDigests: [], Created: at(3_600_000), Size: 4_261_234,
  SharedSize: -1, Labels: null, Containers: -1, ...o,
});

describe('images', () => {
  const images = [
    img({ RepoTags: ['busybox:latest', 'busybox:1.36', 'localhost:5000/tools/bb:v1'], RepoDigests: [`busybox@${DIGEST}`] }),
    img({ Id: ID2, RepoTags: [], RepoDigests: [], Created: at(2 * 86_400_000), Size: 999_900 }),
  ];
  it('renders the default table like docker', () => {
    const rows = imageRows(images, { trunc: true, digests: false, now: NOW });
    assert.equal(formatRows(imageFormat('table', false, false), rows, imageHeaders), [
      'REPOSITORY                TAG       IMAGE ID       CREATED             SIZE',
      'busybox                   latest    f23c40f8cbeb   About an hour ago   4.26MB',
      'busybox                   1.36      f23c40f8cbeb   About an hour ago   4.26MB',
      'localhost:5000/tools/bb   v1        f23c40f8cbeb   About an hour ago   4.26MB',
      '<none>                    <none>    82c8ac7c1ebc   2 days ago          1e+03kB',
      '',
    ].join('\n'));
  });
  it('adds digest rows with --digests and full IDs with --no-trunc', () => {
    const rows = imageRows(images.slice(0, 1), { trunc: false, digests: true, now: NOW });
    assert.deepEqual(rows.map((r) => [r.Repository, r.Tag, r.Digest, r.ID]), [
      ['busybox', 'latest', DIGEST, ID1],
      ['busybox', '1.36', DIGEST, ID1],
      ['localhost:5000/tools/bb', 'v1', '<none>', ID1],
    ]);
    assert.equal(
      imageFormat('table', false, true),
      'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}',
    );
    assert.equal(imageFormat('table {{.Tag}}\t{{.ID}}', false, true), 'table {{.Tag}}\t{{.Digest}}\t{{.ID}}');
  });
  it('shows digest-only images as <none> tag', () => {
    const rows = imageRows([img({ RepoTags: [], RepoDigests: [`busybox@${DIGEST}`] })], { trunc: true, digests: false, now: NOW });
    assert.deepEqual(rows.map((r) => [r.Repository, r.Tag, r.Digest]), [['busybox', '<none>', '']]);
  });
  it('is quiet with -q', () => {
    const rows = imageRows(images, { trunc: true, digests: false, now: NOW });
    assert.equal(formatRows(imageFormat('table', true, false), rows, imageHeaders), 'f23c40f8cbeb\nf23c40f8cbeb\nf23c40f8cbeb\n82c8ac7c1ebc\n');
  });
  it('has docker json fields', () => {
    const [row] = imageRows(images.slice(1), { trunc: true, digests: false, now: NOW });
    assert.deepEqual(Object.keys(row!), ['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']);
    assert.equal(row!.Containers, 'N/A');
    assert.equal(row!.VirtualSize, '999.9kB');
  });
});

describe('history', () => {
  const items: HistoryItem[] = [
    { Id: ID1, Created: at(120_000), CreatedBy: '/bin/sh -c #(nop)  CMD ["sh"]', Tags: ['busybox:latest'], Size: 0, Comment: '' },
    { Id: '<missing>', Created: at(86_400_000 * 3), CreatedBy: '/bin/sh -c #(nop) ADD\tfile:0123456789abcdef0123456789abcdef in / ', Tags: null, Size: 4_261_234, Comment: 'Imported from -' },
  ];
  it('renders the default table like docker', () => {
    const out = formatRows(historyFormat('table', false, true), historyRows(items, { human: true, trunc: true, now: NOW }), historyHeaders);
    assert.equal(out, [
      'IMAGE          CREATED         CREATED BY                                      SIZE      COMMENT',
      'f23c40f8cbeb   2 minutes ago   /bin/sh -c #(nop)  CMD ["sh"]                   0B        ',
      '<missing>      3 days ago      /bin/sh -c #(nop) ADD file:0123456789abcdef0…   4.26MB    Imported from -',
      '',
    ].join('\n'));
  });
  it('prints raw numbers and RFC 3339 dates without -H', () => {
    const rows = historyRows(items, { human: false, trunc: false, now: NOW });
    assert.equal(rows[1]!.Size, '4261234');
    assert.match(rows[1]!.CreatedSince, /^2023-12-29T\d\d:00:00(Z|[+-]\d\d:\d\d)$/);
    assert.equal(rows[1]!.CreatedBy, '/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / ');
    assert.equal(historyFormat('table', false, false), 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}');
    assert.equal(historyFormat('table', true, true), '{{.ID}}');
  });
});
