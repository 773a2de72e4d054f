// PostHog's `lz64` bodies: lz-string's compressToBase64 output (posthog-js's older transport).
//
// A port of lz-string 1.5.0's `decompressFromBase64` (MIT, Pieroxy) with one change: it stops as
// soon as the output passes `limit` characters. The library itself has no bound, and LZW output
// grows quadratically with the input at worst (each code may expand to an entry one longer than
// the last), so a 500 KB body could ask for gigabytes: the same zip-bomb rule as gzip bodies
// (`maxOutputLength`) needs the bound inside the loop. `lz64.test.ts` checks this port against
// the library on random text.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=';
const VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

export class Lz64Error extends Error {}

/**
 * The text `input` (lz-string base64) decompresses to; throws Lz64Error when it is not lz64,
 * RangeError when the text would pass `limit` characters.
 */
export function decompressLz64(input: string, limit: number): string {
  if (input.length === 0) throw new Lz64Error('empty lz64 data');
  const length = input.length;
  const next = (index: number): number => {
    const code = input.charCodeAt(index);
    const v = code < 128 ? VALUE[code]! : -1;
    // The library reads an unknown character as 0 (undefined & n); a wrong alphabet is refused here.
    if (v < 0 && index < length) throw new Lz64Error(`character ${JSON.stringify(input[index])} is not base64`);
    return v < 0 ? 0 : v;
  };
  let val = next(0);
  let position = 32;
  let index = 1;
  const read = (nbits: number): number => {
    let bits = 0;
    const maxpower = 2 ** nbits;
    let power = 1;
    while (power !== maxpower) {
      const resb = val & position;
      position >>= 1;
      if (position === 0) {
        position = 32;
        val = next(index++);
      }
      bits |= (resb > 0 ? 1 : 0) * power;
      power <<= 1;
    }
    return bits;
  };

  const dictionary: string[] = [];
  let enlargeIn = 4;
  let dictSize = 4;
  let numBits = 3;
  let c: string;
  switch (read(2)) {
    case 0:
      c = String.fromCharCode(read(8));
      break;
    case 1:
      c = String.fromCharCode(read(16));
      break;
    default:
      return '';
  }
  dictionary[3] = c;
  let w = c;
  const result: string[] = [c];
  let size = c.length;
  for (;;) {
    if (index > length) throw new Lz64Error('lz64 data ends early');
    let code = read(numBits);
    switch (code) {
      case 0:
        dictionary[dictSize++] = String.fromCharCode(read(8));
        code = dictSize - 1;
        enlargeIn--;
        break;
      case 1:
        dictionary[dictSize++] = String.fromCharCode(read(16));
        code = dictSize - 1;
        enlargeIn--;
        break;
      case 2:
        return result.join('');
    }
    if (enlargeIn === 0) {
      enlargeIn = 2 ** numBits;
      numBits++;
    }
    let entry: string;
    const known = dictionary[code];
    if (known !== undefined) entry = known;
    else if (code === dictSize) entry = w + w.charAt(0);
    else throw new Lz64Error('lz64 data refers to an unknown entry');
    size += entry.length;
    if (size > limit) throw new RangeError('lz64 output over the limit');
    result.push(entry);
    dictionary[dictSize++] = w + entry.charAt(0);
    enlargeIn--;
    w = entry;
    if (enlargeIn === 0) {
      enlargeIn = 2 ** numBits;
      numBits++;
    }
  }
}
