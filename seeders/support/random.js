'use strict';
const { createHash } = require('node:crypto');

/** Deterministic pseudo-random numbers (mulberry32), so demo data is the same on every machine. */
function randomGenerator(seedText) {
  let state = createHash('sha256').update(seedText).digest().readUInt32LE(0);
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

module.exports = { randomGenerator };
