import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { WorkerSupply, type NotebookThread, type WorkerInput, type WorkerMessage } from '../notebook/isolation.ts';
import { startBridge, type Bridge } from './bridge.ts';
import { isInside, permissionFlags, type SandboxPolicy } from './policy.ts';
import { mkdir } from 'node:fs/promises';

/**
 * `--sandbox`: the notebooks' workers run in a process of their own, started with Node's
 * permission flags for the policy (policy.ts), since Node grants permissions per process,
 * not per thread. Its main thread (child/host.mjs) starts the same notebook workers as a run
 * without the sandbox, at this process's request; a RemoteThread here stands for each, so
 * that isolation.ts runs, times and stops them as it does its own threads. The process
 * starts with the first notebook that runs (a cached build starts none), and its environment
 * is the project's declared variables only (what the cells see, and its native code too).
 */

const HOST = fileURLToPath(new URL('./child/host.mjs', import.meta.url));
const GUARD = new URL('./child/guard.mjs', import.meta.url);

type HostEvent =
  | { event: 'ready' }
  | { id: number; event: 'message'; message: WorkerMessage }
  | { id: number; event: 'error'; error: { name: string; message: string; stack: string; code?: string; permission?: string; resource?: string } }
  | { id: number; event: 'exit'; code: number };

class RemoteThread extends EventEmitter implements NotebookThread {
  live = true;
  referenced = true;
  constructor(private readonly host: SandboxHost, readonly id: number) {
    super();
  }
  postMessage(input: WorkerInput): void {
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

export class SandboxHost {
  readonly workers: WorkerSupply;
  private child: ChildProcess | null = null;
  /** Requests made before the process said it listens (child/host.mjs's 'ready'). */
  private queue: object[] | null = null;
  private readonly threads = new Map<number, RemoteThread>();
  private nextId = 1;
  private closing = false;

  private constructor(private readonly policy: SandboxPolicy, private readonly bridge: Bridge, private readonly cwd: string, private readonly env: Record<string, string>) {
    this.workers = new WorkerSupply((input) => this.launch(input));
  }

  /** `env`: the sandboxed process's whole environment (the declared variables); `cwd`: its folder (the project root). */
  static async start(policy: SandboxPolicy, opts: { cwd: string; env: Record<string, string> }): Promise<SandboxHost> {
    // The places cells write exist before the process starts: Node grants an existing folder as one (policy.ts, grant).
    for (const dir of policy.write) if (isInside(dir, policy.projectRead)) await mkdir(dir, { recursive: true });
    return new SandboxHost(policy, await startBridge(policy), opts.cwd, opts.env);
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

  private launch(input: WorkerInput | null): RemoteThread {
    const t = new RemoteThread(this, this.nextId++);
    this.threads.set(t.id, t);
    this.send({ op: 'start', id: t.id, input });
    this.holdOpen();
    return t;
  }

  private ended(t: RemoteThread, code: number): void {
    if (!t.live) return;
    t.live = false;
    this.threads.delete(t.id);
    t.emit('exit', code);
    this.holdOpen();
    if (this.closing && this.threads.size === 0) void this.shutdown();
  }

  send(message: { op: 'start' | 'post' | 'terminate'; id: number; input?: WorkerInput | null; message?: WorkerInput }): void {
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

  /** The run is over: the process ends once its last worker has (a finished notebook's lingers for LINGER_MS). */
  close(): void {
    this.closing = true;
    this.workers.dropSpare();
    if (this.threads.size === 0) void this.shutdown();
  }

  private async shutdown(): Promise<void> {
    const child = this.child;
    this.child = null;
    child?.kill('SIGKILL');
    await this.bridge.close();
  }
}
