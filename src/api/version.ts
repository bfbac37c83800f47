/** API versions: what this server speaks, and how a request's version is read. */
export const API_VERSION = '1.50';
export const MIN_API_VERSION = '1.24';

/** Compares dotted versions numerically: "1.9" < "1.24". */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export const versionAtLeast = (v: string, min: string) => compareVersions(v, min) >= 0;
export const versionBefore = (v: string, than: string) => compareVersions(v, than) < 0;
