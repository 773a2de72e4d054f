// Loads uWebSockets.js and refuses to run on its slow fallback.
//
// The registry build we depend on (npm alias of @trufflesuite/uws-js-unofficial) silently falls
// back to a pure-JS server when its native binary does not load (wrong Node ABI, or
// UWS_USE_FALLBACK set). That fallback is an order of magnitude slower and behaves differently,
// so we check that the module we got is the native addon itself.
import { createRequire } from 'node:module';
import uWS from 'uWebSockets.js';
import { PrerequisiteError } from './errors.js';

const require = createRequire(import.meta.url);

export function nativeBinaryPath(): string {
  const pkgDir = require.resolve('uWebSockets.js/package.json').replace(/package\.json$/, '');
  return `${pkgDir}binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
}

let checked = false;

/** Returns the native uWebSockets.js module, or throws a PrerequisiteError saying why it is not. */
export function loadUws(): typeof uWS {
  if (checked) return uWS;
  let native: unknown;
  try {
    native = require(nativeBinaryPath());
  } catch (err) {
    throw new PrerequisiteError(
      `uWebSockets.js has no native binary for Node ${process.version} (ABI ${process.versions.modules}) on ` +
        `${process.platform}-${process.arch}; trackhouse needs Node 20 on Linux x64/arm64, macOS or Windows x64`,
      { cause: err },
    );
  }
  if ((native as { App?: unknown }).App !== uWS.App) {
    throw new PrerequisiteError(
      'uWebSockets.js loaded its slow JavaScript fallback instead of the native binary' +
        ' (is UWS_USE_FALLBACK set?); unset it and use Node 20',
    );
  }
  checked = true;
  return uWS;
}
