// Proof of work off the main thread: find a nonce (a hex counter) such that
// SHA-256("{challenge}:{nonce}") starts with `difficulty` zero bits.
"use strict";
const K = [], H = [];
for (let n = 2, i = 0; i < 64; n++) {
  let prime = true;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) { prime = false; break; }
  if (!prime) continue;
  if (i < 8) H[i] = (Math.sqrt(n) % 1) * 4294967296 | 0;
  K[i++] = (Math.cbrt(n) % 1) * 4294967296 | 0;
}
const W = new Int32Array(64);

function compress(h, bytes, at) {
  for (let i = 0; i < 16; i++, at += 4) {
    W[i] = bytes[at] << 24 | bytes[at + 1] << 16 | bytes[at + 2] << 8 | bytes[at + 3];
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15], y = W[i - 2];
    W[i] = ((x >>> 7 | x << 25) ^ (x >>> 18 | x << 14) ^ x >>> 3) + W[i - 16] + W[i - 7] +
      ((y >>> 17 | y << 15) ^ (y >>> 19 | y << 13) ^ y >>> 10) | 0;
  }
  let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (let i = 0; i < 64; i++) {
    const t1 = k + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7)) +
      (e & f ^ ~e & g) + K[i] + W[i] | 0;
    const t2 = ((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) +
      (a & b ^ a & c ^ b & c) | 0;
    k = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

function zeroBits(h) {
  let bits = 0;
  for (const word of h) {
    if (word) return bits + Math.clz32(word);
    bits += 32;
  }
  return bits;
}

self.onmessage = ({ data: { challenge, difficulty } }) => {
  const prefix = new TextEncoder().encode(challenge + ":");
  const whole = prefix.length - prefix.length % 64;
  // The full blocks of the prefix never change: hash them once.
  const start = Int32Array.from(H);
  for (let at = 0; at < whole; at += 64) compress(start, prefix, at);
  const tail = new Uint8Array(128), h = new Int32Array(8);
  for (let counter = 0; ; counter++) {
    const nonce = counter.toString(16);
    tail.fill(0);
    tail.set(prefix.subarray(whole));
    let end = prefix.length - whole;
    for (let i = 0; i < nonce.length; i++) tail[end++] = nonce.charCodeAt(i);
    tail[end] = 0x80;
    const size = end + 9 > 64 ? 128 : 64, bits = (prefix.length + nonce.length) * 8;
    tail[size - 4] = bits >>> 24; tail[size - 3] = bits >>> 16; tail[size - 2] = bits >>> 8; tail[size - 1] = bits;
    h.set(start);
    for (let at = 0; at < size; at += 64) compress(h, tail, at);
    if (zeroBits(h) >= difficulty) return postMessage(nonce);
  }
};
