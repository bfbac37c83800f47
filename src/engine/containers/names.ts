/**
 * Container names: Docker's rule for what a name may be, and a generated
 * "adjective_surname" name when none is given (the surnames are scientists
 * and engineers, as in Docker's generator; the lists here are our own).
 */
import { randomInt } from 'node:crypto';
import { invalid } from '../../base/errdefs.js';

const VALID = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Strips one leading slash; refuses what Docker refuses. */
export function validateName(name: string): string {
  if (!VALID.test(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.replace(/^\//, '');
}

const ADJECTIVES = [
  'agile', 'amazing', 'bold', 'brave', 'calm', 'clever', 'cool', 'curious', 'daring', 'eager', 'elastic', 'epic',
  'fervent', 'focused', 'gallant', 'gentle', 'happy', 'hopeful', 'jolly', 'keen', 'kind', 'lucid', 'modest', 'nifty',
  'nimble', 'patient', 'peaceful', 'quick', 'quiet', 'relaxed', 'serene', 'sharp', 'steady', 'sunny', 'tender',
  'trusting', 'upbeat', 'vibrant', 'vigilant', 'wizardly', 'zealous',
];
const SURNAMES = [
  'babbage', 'bardeen', 'bohr', 'boole', 'cerf', 'curie', 'dijkstra', 'einstein', 'euler', 'faraday', 'fermi',
  'feynman', 'gauss', 'germain', 'goldberg', 'hamilton', 'hopper', 'hypatia', 'johnson', 'kepler', 'knuth',
  'lamarr', 'lamport', 'liskov', 'lovelace', 'maxwell', 'meitner', 'mirzakhani', 'newton', 'noether', 'pascal',
  'ritchie', 'shannon', 'thompson', 'torvalds', 'turing', 'volta', 'wiles', 'wing', 'wozniak',
];

export function generateName(taken: (n: string) => boolean): string {
  for (let i = 0; ; i++) {
    let n = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
    if (i > 10) n += String(randomInt(100));
    if (!taken(n)) return n;
  }
}
