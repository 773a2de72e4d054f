// CityHash128 as ClickHouse uses it: Google's CityHash v1.0.2, which ClickHouse froze for the
// checksums of its compressed blocks. CityHash 1.1 changed the function (other results), so
// no other CityHash library will do. Written from clickhouse-java's ClickHouseCityHash (a port of
// ClickHouse's contrib/cityhash102); the test checks it against that class's own results.
//
// Hot path: nativeCompressed() hashes every compressed block of a result body (up to 256 MiB).
// BigInt would allocate a new value per 64-bit operation (dozens per 64 bytes of input), so a 64-bit value is two int32 words instead, which stay untagged in optimised code
// and allocate nothing. Most of the hash keeps them in "registers": pairs in one Int32Array (an
// even index i, hi word at r[i], lo word at r[i + 1]) that small helpers read and write, any
// register being both input and output. The loop that runs per byte (longLoop, weakHash32) is
// written out on local words instead: V8 inlines only ~920 bytes of bytecode into one optimised
// function, and the ~50 helper calls per 64 bytes blew that budget and stayed real calls
// (measured on 1 MiB blocks, Node 20: 165 MiB/s with helpers only, 393 MiB/s as written). The
// 64-bit multiply builds the high word of lo*lo from 16-bit limbs (Math.imul gives only the low
// word).

// Constants (set below), k1 also as words for longLoop.
const K1H = 0xb492b66f | 0;
const K1L = 0xbe98f273 | 0;
const K0 = 0;
const K1 = 2;
const K2 = 4;
const K3 = 6;
const KMUL = 8;
// The seed pair given to cityHash128WithSeed, and the result pair (low64, high64).
const SEED0 = 10;
const SEED1 = 12;
const OUT0 = 14;
const OUT1 = 16;
// State of the long-input loop (x, y, z, v, w in CityHash's source).
const X = 18;
const Y = 20;
const Z = 22;
const V0 = 24;
const V1 = 26;
const W0 = 28;
const W1 = 30;
// CityMurmur's a, b, c, d.
const A = 32;
const B = 34;
const C = 36;
const D = 38;
// Scratch: T and U for any caller; the others only for the helper that names them.
const T = 40;
const U = 42;
const HA = 44; // hashLen16
const HB = 46;
const L0 = 48; // hashLen0to16
const L1 = 50;
const L2 = 52;
const M = 54; // longLoop

const r = new Int32Array(56);

function set(d: number, hi: number, lo: number): void {
  r[d] = hi;
  r[d + 1] = lo;
}

/** A non-negative safe integer (a length). */
function setLength(d: number, n: number): void {
  set(d, Math.floor(n / 4294967296), n | 0);
}

function mov(d: number, a: number): void {
  r[d] = r[a]!;
  r[d + 1] = r[a + 1]!;
}

function load64(d: number, s: DataView, pos: number): void {
  r[d + 1] = s.getInt32(pos, true);
  r[d] = s.getInt32(pos + 4, true);
}

function load32(d: number, s: DataView, pos: number): void {
  r[d + 1] = s.getInt32(pos, true);
  r[d] = 0;
}

function add(d: number, a: number, b: number): void {
  const al = r[a + 1]!;
  const lo = (al + r[b + 1]!) | 0;
  r[d] = (r[a]! + r[b]! + ((lo >>> 0) < (al >>> 0) ? 1 : 0)) | 0;
  r[d + 1] = lo;
}

function sub(d: number, a: number, b: number): void {
  const al = r[a + 1]!;
  const bl = r[b + 1]!;
  r[d] = (r[a]! - r[b]! - ((al >>> 0) < (bl >>> 0) ? 1 : 0)) | 0;
  r[d + 1] = (al - bl) | 0;
}

function xor(d: number, a: number, b: number): void {
  r[d] = r[a]! ^ r[b]!;
  r[d + 1] = r[a + 1]! ^ r[b + 1]!;
}

/** 1 if the 32-bit add of b that gave lo carried out (the sum wrapped below b). */
function carry(lo: number, b: number): number {
  return (lo >>> 0) < (b >>> 0) ? 1 : 0;
}

/** Low 64 bits of a * b, from words, into register d. */
function mulWords(d: number, ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p00 = Math.imul(a0, b0);
  const p01 = Math.imul(a0, b1);
  const p10 = Math.imul(a1, b0);
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const hi = Math.imul(a1, b1) + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16); // of lo * lo
  r[d] = (hi + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
  r[d + 1] = Math.imul(al, bl);
}

function mul(d: number, a: number, b: number): void {
  mulWords(d, r[a]!, r[a + 1]!, r[b]!, r[b + 1]!);
}

/** Rotate right by n, 0 <= n < 64. */
function rotate(d: number, a: number, n: number): void {
  let hi = r[a]!;
  let lo = r[a + 1]!;
  if (n >= 32) {
    const t = hi;
    hi = lo;
    lo = t;
    n -= 32;
  }
  if (n > 0) {
    const h = (hi >>> n) | (lo << (32 - n));
    lo = (lo >>> n) | (hi << (32 - n));
    hi = h;
  }
  set(d, hi, lo);
}

/** a ^ (a >>> 47) */
function shiftMix(d: number, a: number): void {
  const hi = r[a]!;
  r[d + 1] = r[a + 1]! ^ (hi >>> 15);
  r[d] = hi;
}

/** Hash128to64(u, v) of CityHash: a Murmur-style mix of two values into one. */
function hashLen16(d: number, u: number, v: number): void {
  xor(HA, u, v);
  mul(HA, HA, KMUL);
  shiftMix(HA, HA);
  xor(HB, v, HA);
  mul(HB, HB, KMUL);
  shiftMix(HB, HB);
  mul(d, HB, KMUL);
}

/**
 * WeakHashLen32WithSeeds over the 32 bytes at pos with seeds a and b (as words), into registers
 * (d0, d1). Per-byte path: on locals (see the top of the file).
 */
function weakHash32(d0: number, d1: number, s: DataView, pos: number, ah: number, al: number, bh: number, bl: number): void {
  const wl = s.getInt32(pos, true);
  const wh = s.getInt32(pos + 4, true);
  const xl = s.getInt32(pos + 8, true);
  const xh = s.getInt32(pos + 12, true);
  const yl = s.getInt32(pos + 16, true);
  const yh = s.getInt32(pos + 20, true);
  const zl = s.getInt32(pos + 24, true);
  const zh = s.getInt32(pos + 28, true);
  // a += w
  al = (al + wl) | 0;
  ah = (ah + wh + carry(al, wl)) | 0;
  // b = rotate(b + a + z, 21)
  let l = (bl + al) | 0;
  let h = (bh + ah + carry(l, al)) | 0;
  l = (l + zl) | 0;
  h = (h + zh + carry(l, zl)) | 0;
  bh = (h >>> 21) | (l << 11);
  bl = (l >>> 21) | (h << 11);
  // c = a
  const ch = ah;
  const cl = al;
  // a += x; a += y
  al = (al + xl) | 0;
  ah = (ah + xh + carry(al, xl)) | 0;
  al = (al + yl) | 0;
  ah = (ah + yh + carry(al, yl)) | 0;
  // b += rotate(a, 44): swap the words, then rotate by 12
  l = (ah >>> 12) | (al << 20);
  h = (al >>> 12) | (ah << 20);
  bl = (bl + l) | 0;
  bh = (bh + h + carry(bl, l)) | 0;
  // (a + z, b + c)
  l = (al + zl) | 0;
  r[d0] = (ah + zh + carry(l, zl)) | 0;
  r[d0 + 1] = l;
  l = (bl + cl) | 0;
  r[d1] = (bh + ch + carry(l, cl)) | 0;
  r[d1 + 1] = l;
}

function hashLen0to16(d: number, s: DataView, pos: number, len: number): void {
  if (len > 8) {
    load64(L0, s, pos);
    load64(L1, s, pos + len - 8);
    setLength(L2, len);
    add(L2, L1, L2);
    rotate(L2, L2, len);
    hashLen16(d, L0, L2);
    xor(d, d, L1); // hashLen16(a, rotate(b + len, len)) ^ b
  } else if (len >= 4) {
    const a = s.getUint32(pos, true);
    set(L0, a >>> 29, a << 3);
    setLength(L2, len);
    add(L0, L0, L2); // (a << 3) + len
    load32(L1, s, pos + len - 4);
    hashLen16(d, L0, L1);
  } else if (len > 0) {
    const y = s.getUint8(pos) + (s.getUint8(pos + (len >>> 1)) << 8);
    const z = len + (s.getUint8(pos + len - 1) << 2);
    set(L0, 0, y);
    mul(L0, L0, K2);
    set(L1, 0, z);
    mul(L1, L1, K3);
    xor(L0, L0, L1);
    shiftMix(L0, L0);
    mul(d, L0, K2);
  } else {
    mov(d, K2);
  }
}

/** CityMurmur: cityHash128WithSeed for len < 128. */
function cityMurmur(s: DataView, pos: number, len: number): void {
  mov(A, SEED0);
  mov(B, SEED1);
  let l = len - 16;
  if (l <= 0) {
    mul(A, A, K1);
    shiftMix(A, A);
    mul(A, A, K1); // a = shiftMix(a * k1) * k1
    hashLen0to16(T, s, pos, len);
    mul(C, B, K1);
    add(C, C, T); // c = b * k1 + hashLen0to16
    if (len >= 8) load64(T, s, pos);
    else mov(T, C);
    add(D, A, T);
    shiftMix(D, D);
  } else {
    load64(T, s, pos + len - 8);
    add(T, T, K1);
    hashLen16(C, T, A); // c = hashLen16(fetch64(s + len - 8) + k1, a)
    setLength(T, len);
    add(T, B, T);
    load64(U, s, pos + len - 16);
    add(U, C, U);
    hashLen16(D, T, U); // d = hashLen16(b + len, c + fetch64(s + len - 16))
    add(A, A, D);
    do {
      load64(T, s, pos);
      mul(T, T, K1);
      shiftMix(T, T);
      mul(T, T, K1);
      xor(A, A, T);
      mul(A, A, K1);
      xor(B, B, A);
      load64(T, s, pos + 8);
      mul(T, T, K1);
      shiftMix(T, T);
      mul(T, T, K1);
      xor(C, C, T);
      mul(C, C, K1);
      xor(D, D, C);
      pos += 16;
      l -= 16;
    } while (l > 0);
  }
  hashLen16(A, A, C);
  hashLen16(B, D, B);
  xor(OUT0, A, B);
  hashLen16(OUT1, B, A);
}

/**
 * The main loop of CityHash128WithSeed over n bytes at pos (n a multiple of 128), on the X..W1
 * registers. Per-byte path: on locals (see the top of the file); CityHash's 128-byte iteration
 * is the same 64-byte step twice, so this loops over 64-byte steps.
 */
function longLoop(s: DataView, pos: number, n: number): void {
  let xh = r[X]!;
  let xl = r[X + 1]!;
  let yh = r[Y]!;
  let yl = r[Y + 1]!;
  let zh = r[Z]!;
  let zl = r[Z + 1]!;
  let h = 0;
  let l = 0;
  let fh = 0;
  let fl = 0;
  for (const end = pos + n; pos < end; pos += 64) {
    const v0h = r[V0]!;
    const v0l = r[V0 + 1]!;
    const v1h = r[V1]!;
    const v1l = r[V1 + 1]!;
    const w0h = r[W0]!;
    const w0l = r[W0 + 1]!;
    const w1h = r[W1]!;
    const w1l = r[W1 + 1]!;
    // x = rotate(x + y + v0 + fetch64(s + 16), 37) * k1; x ^= w1
    l = (xl + yl) | 0;
    h = (xh + yh + carry(l, yl)) | 0;
    l = (l + v0l) | 0;
    h = (h + v0h + carry(l, v0l)) | 0;
    fl = s.getInt32(pos + 16, true);
    fh = s.getInt32(pos + 20, true);
    l = (l + fl) | 0;
    h = (h + fh + carry(l, fl)) | 0;
    mulWords(M, (l >>> 5) | (h << 27), (h >>> 5) | (l << 27), K1H, K1L); // rotate 37: swap, then 5
    xh = r[M]! ^ w1h;
    xl = r[M + 1]! ^ w1l;
    // y = rotate(y + v1 + fetch64(s + 48), 42) * k1; y ^= v0
    l = (yl + v1l) | 0;
    h = (yh + v1h + carry(l, v1l)) | 0;
    fl = s.getInt32(pos + 48, true);
    fh = s.getInt32(pos + 52, true);
    l = (l + fl) | 0;
    h = (h + fh + carry(l, fl)) | 0;
    mulWords(M, (l >>> 10) | (h << 22), (h >>> 10) | (l << 22), K1H, K1L); // rotate 42: swap, then 10
    yh = r[M]! ^ v0h;
    yl = r[M + 1]! ^ v0l;
    // z = rotate(z ^ w0, 33): swap, then 1
    h = zh ^ w0h;
    l = zl ^ w0l;
    zh = (l >>> 1) | (h << 31);
    zl = (h >>> 1) | (l << 31);
    // v = weakHash32(s, v1 * k1, x + w0)
    mulWords(M, v1h, v1l, K1H, K1L);
    l = (xl + w0l) | 0;
    h = (xh + w0h + carry(l, w0l)) | 0;
    weakHash32(V0, V1, s, pos, r[M]!, r[M + 1]!, h, l);
    // w = weakHash32(s + 32, z + w1, y)
    l = (zl + w1l) | 0;
    h = (zh + w1h + carry(l, w1l)) | 0;
    weakHash32(W0, W1, s, pos + 32, h, l, yh, yl);
    // swap(z, x)
    h = zh;
    l = zl;
    zh = xh;
    zl = xl;
    xh = h;
    xl = l;
  }
  set(X, xh, xl);
  set(Y, yh, yl);
  set(Z, zh, zl);
}

/** CityHash128WithSeed of len bytes at pos, seeds in SEED0/SEED1, result in OUT0/OUT1. */
function cityHash128WithSeed(s: DataView, pos: number, len: number): void {
  if (len < 128) {
    cityMurmur(s, pos, len);
    return;
  }
  mov(X, SEED0);
  mov(Y, SEED1);
  setLength(Z, len);
  mul(Z, Z, K1);
  xor(V0, Y, K1);
  rotate(V0, V0, 49);
  mul(V0, V0, K1);
  load64(T, s, pos);
  add(V0, V0, T); // v0 = rotate(y ^ k1, 49) * k1 + fetch64(s)
  rotate(V1, V0, 42);
  mul(V1, V1, K1);
  load64(T, s, pos + 8);
  add(V1, V1, T); // v1 = rotate(v0, 42) * k1 + fetch64(s + 8)
  add(W0, Y, Z);
  rotate(W0, W0, 35);
  mul(W0, W0, K1);
  add(W0, W0, X); // w0 = rotate(y + z, 35) * k1 + x
  load64(T, s, pos + 88);
  add(W1, X, T);
  rotate(W1, W1, 53);
  mul(W1, W1, K1); // w1 = rotate(x + fetch64(s + 88), 53) * k1
  const n = len - (len % 128);
  longLoop(s, pos, n);
  pos += n;
  len -= n;
  rotate(T, W0, 37);
  mul(T, T, K0);
  add(T, T, Z);
  add(Y, Y, T); // y += rotate(w0, 37) * k0 + z
  add(T, V0, Z);
  rotate(T, T, 49);
  mul(T, T, K0);
  add(X, X, T); // x += rotate(v0 + z, 49) * k0
  // The last len < 128 bytes, 32 at a time from the end (reading back into bytes already mixed).
  for (let done = 0; done < len; ) {
    done += 32;
    sub(T, Y, X);
    rotate(T, T, 42);
    mul(T, T, K0);
    add(Y, T, V1); // y = rotate(y - x, 42) * k0 + v1
    load64(T, s, pos + len - done + 16);
    add(W0, W0, T);
    rotate(T, X, 49);
    mul(T, T, K0);
    add(X, T, W0); // x = rotate(x, 49) * k0 + w0
    add(W0, W0, V0);
    weakHash32(V0, V1, s, pos + len - done, r[V0]!, r[V0 + 1]!, r[V1]!, r[V1 + 1]!);
  }
  hashLen16(X, X, V0);
  hashLen16(Y, Y, W0);
  add(T, X, V1);
  hashLen16(OUT0, T, W1);
  add(OUT0, OUT0, Y);
  add(T, X, W1);
  add(U, Y, V1);
  hashLen16(OUT1, T, U);
}

function toBigInt(a: number): bigint {
  return (BigInt(r[a]! >>> 0) << 32n) | BigInt(r[a + 1]! >>> 0);
}

set(K0, 0xc3a5c85c | 0, 0x97cb3127 | 0);
set(K1, K1H, K1L);
set(K2, 0x9ae16a3b | 0, 0x2f90404f | 0);
set(K3, 0xc949d7c7 | 0, 0x509e6557 | 0);
set(KMUL, 0x9ddfea08 | 0, 0xeb382d69 | 0);

/** ClickHouse's CityHash128 (CityHash v1.0.2) of bytes: [low64, high64] (uint128's first, second). */
export function cityHash128(bytes: Uint8Array): [bigint, bigint] {
  const s = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.byteLength;
  if (len >= 16) {
    load64(SEED0, s, 0);
    xor(SEED0, SEED0, K3);
    load64(SEED1, s, 8);
    cityHash128WithSeed(s, 16, len - 16);
  } else if (len >= 8) {
    setLength(T, len);
    mul(T, T, K0);
    load64(SEED0, s, 0);
    xor(SEED0, SEED0, T); // fetch64(s) ^ (len * k0)
    load64(SEED1, s, len - 8);
    xor(SEED1, SEED1, K1); // fetch64(s + len - 8) ^ k1
    cityHash128WithSeed(s, 0, 0);
  } else {
    mov(SEED0, K0);
    mov(SEED1, K1);
    cityHash128WithSeed(s, 0, len);
  }
  return [toBigInt(OUT0), toBigInt(OUT1)];
}
