import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import { codeFingerprint, type CodeFingerprint } from '../store/code-fingerprint.ts';
import { hashValue } from '../util/hash.ts';
import { UserError } from '../util/errors.ts';

/**
 * The handler's code hash, part of every unit's result key: the engine's one code
 * fingerprint (store/code-fingerprint.ts) of the handler module, so a change to it, to any
 * project module it imports (transitively), to a file such a module names with
 * `@fingerprint`, or to the version of an npm package it imports changes the keys.
 */
export async function handlerFingerprint(handlerPath: string): Promise<CodeFingerprint> {
  try {
    await access(handlerPath);
  } catch {
    throw new UserError(`grid handler ${handlerPath} does not exist`, 'pass the absolute path of the handler module');
  }
  const fp = await codeFingerprint([handlerPath], { base: dirname(handlerPath) });
  if (fp.files['<error>']) throw new UserError(`grid handler ${handlerPath} does not compile`, 'fix the handler module (or a module it imports); run it with tsx to see the error');
  return fp;
}

export async function handlerCodeHash(handlerPath: string): Promise<string> {
  return hashValue(await handlerFingerprint(handlerPath));
}
