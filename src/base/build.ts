// Build stamps, shared by pier and pierd. The bundler defines PIER_VERSION, PIER_COMMIT and PIER_BUILT
// (esbuild --define); unbundled runs report a dev version.

declare const PIER_VERSION: string | undefined;
declare const PIER_COMMIT: string | undefined;
declare const PIER_BUILT: string | undefined;

export const build = {
  version: typeof PIER_VERSION === 'string' ? PIER_VERSION : '0.1.0-dev',
  commit: typeof PIER_COMMIT === 'string' ? PIER_COMMIT : 'unknown',
  built: typeof PIER_BUILT === 'string' ? PIER_BUILT : '',
};
