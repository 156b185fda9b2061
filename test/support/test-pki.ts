import { type LoopbackPki, writeLoopbackPki } from '../../src/testenv/cluster-pki.js';

export type TestPki = LoopbackPki;

/** A fresh CA and a server certificate for 127.0.0.1 it signed, written into `dir` (openssl CLI, P-256). */
export const writeTestPki = (dir: string): Promise<TestPki> => writeLoopbackPki(dir, 'elevate-test');
