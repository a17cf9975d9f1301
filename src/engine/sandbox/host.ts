import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startBridge, type Bridge } from './bridge.ts';
import { isInside, permissionFlags, type SandboxPolicy } from './policy.ts';
import { mkdir } from 'node:fs/promises';

/**
 * `--sandbox`: the notebooks' workers run in a process of their own, started with Node's
 * permission flags for the policy (policy.ts), since Node grants permissions per process,
 * not per thread. Its main thread (child/host.mjs) starts the same notebook workers as a run
 * without the sandbox, at this process's request; a RemoteThread here stands for each, with a
 * Worker's methods and events, so that notebook/isolation.ts runs, times and stops them as it
 * does its own threads. What they say is relayed unread (`Input`): the sandbox knows no notebook. The process
 * starts with the first notebook that runs (a cached build starts none), and its environment
 * is the project's declared variables only (what the cells see, and its native code too).
 */

const HOST = fileURLToPath(new URL('./child/host.mjs', import.meta.url));
const GUARD = new URL('./child/guard.mjs', import.meta.url);

type HostEvent =
  | { event: 'ready' }
  | { id: number; event: 'message'; message: unknown }
  | { id: number; event: 'error'; error: { name: string; message: string; stack: string; code?: string; permission?: string; resource?: string } }
  | { id: number; event: 'exit'; code: number };

class RemoteThread<Input> extends EventEmitter {
  live = true;
  referenced = true;
  constructor(private readonly host: SandboxHost<Input>, readonly id: number) {
    super();
  }
  postMessage(input: Input): void {
    this.host.send({ op: 'post', id: this.id, message: input });
  }
  terminate(): Promise<unknown> {
    if (!this.live) return Promise.resolve();
    const ended = new Promise((res) => this.once('exit', res));
    this.host.send({ op: 'terminate', id: this.id });
    return ended;
  }
  ref(): void {
    this.referenced = true;
    this.host.holdOpen();
  }
  unref(): void {
    this.referenced = false;
    this.host.holdOpen();
  }
}

export class SandboxHost<Input> {
  private child: ChildProcess | null = null;
  /** Requests made before the process said it listens (child/host.mjs's 'ready'). */
  private queue: object[] | null = null;
  private readonly threads = new Map<number, RemoteThread<Input>>();
  private nextId = 1;
  private closing = false;

  private constructor(private readonly policy: SandboxPolicy, private readonly bridge: Bridge, private readonly cwd: string, private readonly env: Record<string, string>) {}

  /** `env`: the sandboxed process's whole environment (the declared variables); `cwd`: its folder (the project root). */
  static async start<Input>(policy: SandboxPolicy, opts: { cwd: string; env: Record<string, string> }): Promise<SandboxHost<Input>> {
    // The places cells write exist before the process starts: Node grants an existing folder as one (policy.ts, grant).
    for (const dir of policy.write) if (isInside(dir, policy.projectRead)) await mkdir(dir, { recursive: true });
    return new SandboxHost<Input>(policy, await startBridge(policy), opts.cwd, opts.env);
  }

  private process(): ChildProcess {
    if (this.child) return this.child;
    const guard = new URL(GUARD);
    guard.searchParams.set('socket', this.bridge.path);
    const child = fork(HOST, [], {
      execArgv: [...permissionFlags(this.policy), '--import', guard.href],
      env: this.env,
      cwd: this.cwd,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.queue = [];
    child.on('message', (m: HostEvent) => {
      if (!('id' in m)) {
        if (this.child === child) for (const q of this.queue?.splice(0) ?? []) child.send(q);
        this.queue = null;
        return;
      }
      const t = this.threads.get(m.id);
      if (!t) return;
      if (m.event === 'message') t.emit('message', m.message);
      else if (m.event === 'error') t.emit('error', Object.assign(new Error(m.error.message), m.error));
      else this.ended(t, m.code);
    });
    const gone = (code: number) => {
      if (this.child !== child) return;
      this.child = null;
      // The process ended (a cell's native crash, say): its workers with it.
      for (const t of [...this.threads.values()]) this.ended(t, code);
    };
    child.on('exit', (code, signal) => gone(code ?? (signal ? 128 : 1)));
    child.on('error', () => gone(1));
    this.child = child;
    return child;
  }

  /** A notebook worker in the sandboxed process; `null`: a spare, which gets its input later by postMessage. */
  launch(input: Input | null): RemoteThread<Input> {
    const t = new RemoteThread<Input>(this, this.nextId++);
    this.threads.set(t.id, t);
    this.send({ op: 'start', id: t.id, input });
    this.holdOpen();
    return t;
  }

  private ended(t: RemoteThread<Input>, code: number): void {
    if (!t.live) return;
    t.live = false;
    this.threads.delete(t.id);
    t.emit('exit', code);
    this.holdOpen();
    if (this.closing && this.threads.size === 0) void this.shutdown();
  }

  send(message: { op: 'start' | 'post' | 'terminate'; id: number; input?: Input | null; message?: Input }): void {
    const child = this.process();
    if (this.queue) this.queue.push(message);
    else if (child.connected) child.send(message);
  }

  /** This process waits for the sandboxed one while one of its workers is referenced (not a spare). */
  holdOpen(): void {
    const child = this.child;
    if (!child) return;
    const busy = [...this.threads.values()].some((t) => t.referenced);
    if (busy) { child.ref(); child.channel?.ref(); } else { child.unref(); child.channel?.unref(); }
  }

  /** The run is over (its spare worker stopped first): the process ends once its last worker has (a finished notebook's lingers a while). */
  close(): void {
    this.closing = true;
    if (this.threads.size === 0) void this.shutdown();
  }

  private async shutdown(): Promise<void> {
    const child = this.child;
    this.child = null;
    child?.kill('SIGKILL');
    await this.bridge.close();
  }
}
