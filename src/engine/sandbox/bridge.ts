import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importGraph, resolveImport } from '../util/esbuild-ops.ts';
import { isInside, type SandboxPolicy } from './policy.ts';

/**
 * The parent's side of the sandboxed process's line (child/bridge-client.mjs): it runs esbuild
 * for the process, which may not start it. It answers three questions, none of which lets a
 * cell see what it may not read: compile this text (`transform`, which reads no file), which
 * modules does this code import (`importGraph`), where does this package import lead
 * (`resolveImport`); the last two refuse files outside the policy's read set.
 */
export interface Bridge {
  /** The socket's path, for the sandboxed process. */
  path: string;
  close(): Promise<void>;
}

type Request = { id: number; op: string; args: unknown[] };

export async function startBridge(policy: SandboxPolicy): Promise<Bridge> {
  const readable = (p: string) => isInside(p, policy.read);
  const answer = async (op: string, args: unknown[]): Promise<unknown> => {
    if (op === 'transform') {
      const { transform } = await import('esbuild');
      const [input, options] = args as [string, import('esbuild').TransformOptions];
      return transform(input, options);
    }
    if (op === 'importGraph') {
      const [local, o] = args as [string[], { base: string; fromDir: string }];
      return importGraph(local, { base: o.base, fromDir: o.fromDir, readable });
    }
    if (op === 'resolveImport') {
      const [spec, resolveDir] = args as [string, string];
      return resolveImport(spec, resolveDir, readable);
    }
    throw new Error(`the sandbox bridge has no operation '${op}'`);
  };
  const sockets = new Set<Socket>();
  const serve = (socket: Socket) => {
    // The sandboxed process keeps its end referenced while it waits for an answer; this end
    // must not keep this process alive.
    socket.unref();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let req: Request;
        try {
          req = JSON.parse(line) as Request;
        } catch {
          socket.destroy();
          return;
        }
        answer(req.op, Array.isArray(req.args) ? req.args : []).then(
          (value) => ({ id: req.id, ok: true, value }),
          (err: Error & { errors?: unknown; warnings?: unknown }) => ({ id: req.id, ok: false, error: { name: err.name, message: err.message, errors: err.errors, warnings: err.warnings } }),
        ).then((reply) => {
          if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
        });
      }
    });
  };
  // A folder of this user's own (mkdtemp: mode 0700), so that no other user reaches the socket.
  const dir = await mkdtemp(join(tmpdir(), 'reprobook-sandbox-'));
  const path = process.platform === 'win32' ? `\\\\?\\pipe\\${dir.replace(/[\\/:]/g, '-')}` : join(dir, 'bridge.sock');
  const server: Server = createServer(serve);
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(path, () => res());
  });
  // Only the sandboxed process's questions keep it busy; it does not keep this process alive.
  server.unref();
  return {
    path,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
