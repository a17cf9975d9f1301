// Node's contract for fs.existsSync is that it never throws: false when it cannot tell. Under
// Node 20's permission model it throws ERR_ACCESS_DENIED for a path outside the grants, and
// tools that probe paths (tsx's tsconfig lookup tries the folder's name in the other case, to
// learn whether the file system is case-sensitive) fail on it. Here it keeps its contract, in
// the threads that run project code (guard.mjs) and in the loader's thread (hooks.mjs).
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const existsSync = fs.existsSync;
fs.existsSync = function exists(path) {
  try {
    return existsSync(path);
  } catch {
    return false;
  }
};
syncBuiltinESMExports();
