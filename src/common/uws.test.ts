import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PrerequisiteError } from './errors.js';
import { chooseUwsBuild, currentRuntime, installedDir, loadUws, UWS_BUILDS, uwsLoaded, type PackageDir, type Runtime } from './uws.js';

/** Every build installed, every binary present: only the runtime decides. */
const allInstalled: PackageDir = (dep) => `/nm/${dep}`;
const anyFile = (_file: string) => true;
const linux = (node: string, abi: string, glibc: string | null): Runtime => ({ platform: 'linux', arch: 'x64', node, abi, glibc });

function choose(rt: Runtime, installed = allInstalled, exists = anyFile) {
  return chooseUwsBuild(rt, installed, exists);
}

function refusal(rt: Runtime, installed = allInstalled, exists = anyFile): string {
  try {
    choose(rt, installed, exists);
  } catch (err) {
    expect(err).toBeInstanceOf(PrerequisiteError);
    return (err as Error).message;
  }
  return expect.fail('expected a PrerequisiteError');
}

describe('choosing the uWebSockets.js build', () => {
  it('Node 20 keeps the build it was probed with, on any glibc from 2.27', () => {
    for (const glibc of ['2.27', '2.36', '2.41']) {
      const c = choose(linux('v20.20.2', '115', glibc));
      expect(c.build.dependency).toBe('uWebSockets.js');
      expect(c.file).toBe('/nm/uWebSockets.js/binaries/uws_linux_x64_115.node');
    }
  });

  it('Node 22, 24 and 25 on glibc 2.38 or newer take the official v20.57.0 binaries', () => {
    for (const [node, abi] of [['v22.23.5', '127'], ['v24.22.3', '137'], ['v25.9.0', '141']] as const) {
      for (const glibc of ['2.38', '2.41']) {
        const c = choose(linux(node, abi, glibc));
        expect(c.build.dependency).toBe('uws-official');
        expect(c.file).toBe(`/nm/uws-official/uws_linux_x64_${abi}.node`);
      }
    }
  });

  it('Node 22 on older glibc (Debian 12: 2.36) takes the build for glibc 2.27', () => {
    const c = choose(linux('v22.23.5', '127', '2.36'));
    expect(c.build.dependency).toBe('uws-node22');
    expect(c.file).toBe('/nm/uws-node22/dist/bin/uws_linux_x64_127.node');
  });

  it('Node 22 on older glibc without the optional build says to run npm ci on that Node', () => {
    const msg = refusal(linux('v22.23.5', '127', '2.36'), (dep) => (dep === 'uws-node22' ? null : `/nm/${dep}`));
    expect(msg).toMatch(/Node v22\.23\.5 \(ABI 127\).*glibc 2\.36/);
    expect(msg).toMatch(/"uws-node22".*not installed.*npm ci/);
  });

  it('Node 24 on glibc 2.36 is refused, naming glibc 2.38, the systems that have it and the Node versions that run here', () => {
    const msg = refusal(linux('v24.22.3', '137', '2.36'));
    expect(msg).toMatch(/Node 24 needs glibc 2\.38 or newer \(Debian 13, Ubuntu 24\.04/);
    expect(msg).toMatch(/this is Node v24\.22\.3 \(ABI 137\) on linux-x64, glibc 2\.36/);
    expect(msg).toMatch(/use Node 20 or 22/);
  });

  it('Node 20 on a glibc older than its build needs says which glibc', () => {
    expect(refusal(linux('v20.20.2', '115', '2.17'))).toMatch(/Node 20 needs glibc 2\.27 or newer;.*Move to a newer system/);
  });

  it('a Node without any build (18, 26) is refused, listing the versions that have one', () => {
    for (const [node, abi] of [['v18.20.0', '108'], ['v26.1.0', '147']] as const) {
      const msg = refusal(linux(node, abi, '2.41'));
      expect(msg).toMatch(new RegExp(`no uWebSockets.js build for Node ${node.replace(/\./g, '\\.')} \\(ABI ${abi}\\)`));
      expect(msg).toMatch(/Node 20 \(ABI 115\), 22 \(ABI 127\), 24 \(ABI 137\), 25 \(ABI 141\)/);
    }
  });

  it('Linux without glibc (Alpine, musl) is refused with the image to use instead', () => {
    expect(refusal(linux('v24.22.3', '137', null))).toMatch(/glibc only.*not -alpine/);
  });

  it('glibc does not matter off Linux', () => {
    const c = choose({ platform: 'darwin', arch: 'arm64', node: 'v24.22.3', abi: '137', glibc: null });
    expect(c.file).toBe('/nm/uws-official/uws_darwin_arm64_137.node');
  });

  it('a platform none of the builds ships a binary for is refused with the platform named', () => {
    const msg = refusal({ platform: 'linux', arch: 'riscv64', node: 'v24.22.3', abi: '137', glibc: '2.41' }, allInstalled, (f) => !f.includes('riscv64'));
    expect(msg).toMatch(/no uWebSockets.js binary for linux-riscv64/);
  });
});

describe('the builds as installed here', () => {
  it('every installed build has its Linux x64 binaries where the table says, for each ABI it is chosen for', () => {
    let checked = 0;
    for (const b of UWS_BUILDS) {
      const dir = installedDir(b.dependency);
      if (dir === null) {
        // Only the optional build may be missing (npm installs it on Node 22 and later).
        expect(b.optional, `${b.dependency} is not installed`).toBe(true);
        continue;
      }
      for (const abi of b.abis) {
        expect(existsSync(path.join(dir, b.binary('linux', 'x64', abi))), `${b.dependency} ABI ${abi}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(4);
  });

  it('this Node loads a native build (never a JS fallback) and reports which one', () => {
    const uws = loadUws();
    expect(typeof uws.App).toBe('function');
    // The native addon: its functions are C++ bindings, not JavaScript source.
    expect(Function.prototype.toString.call(uws.App)).toMatch(/\[native code\]/);
    const info = uwsLoaded()!;
    const rt = currentRuntime();
    expect(info.node).toBe(process.version);
    expect(info.binary).toMatch(new RegExp(`uws_${rt.platform}_${rt.arch}_${rt.abi}\\.node$`));
    if (rt.abi === '115') expect(info.dependency).toBe('uWebSockets.js');
  });
});
