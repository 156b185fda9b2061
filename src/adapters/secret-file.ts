import { readFile } from 'node:fs/promises';

/**
 * Reads a secret from its file; its trailing newline is not part of the secret. A missing or empty file
 * throws naming the config field and the path, never the content.
 */
export async function readSecretFile(path: string, field: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`${field}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new Error(`${field}: ${path} is empty`);
  return secret;
}
