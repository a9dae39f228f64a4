/** Spawns the real child processes of the multi-process tests (test/fixtures/child.ts through tsx). */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// tsx's loader in the child's own node process: the tsx CLI would run the script in
// a grandchild, which a SIGKILL to the child would not reach.
const TSX_LOADER = new URL('../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const CHILD = fileURLToPath(new URL('./fixtures/child.ts', import.meta.url));

export interface Child {
  proc: ChildProcess;
  /** JSON lines the child printed so far. */
  lines: Record<string, unknown>[];
  stderr: string[];
  /** Resolves once the child printed {"ready":true}. */
  ready: Promise<void>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  go(): void;
  /** Resolves with the first printed line matching `pred`. */
  waitFor(pred: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

const live = new Set<ChildProcess>();

export function spawnChild(mode: string, options: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, ['--import', TSX_LOADER, '--conditions=jqjobs-source', CHILD, mode], {
    env: { ...process.env, JQ_CHILD: JSON.stringify(options) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(proc);
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let buf = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => (live.delete(proc), resolve(code))));
  const waitFor = (pred: (l: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const hit = lines.find(pred);
      if (hit) return resolve(hit);
      waiters.push({ pred, resolve });
      void exited.then((code) => reject(new Error(`child ${mode} exited (${String(code)}) before the expected output; stderr: ${stderr.join('')}`)));
    });
  return {
    proc,
    lines,
    stderr,
    ready: waitFor((l) => l.ready === true).then(() => undefined),
    exited,
    go: () => proc.stdin!.end('go\n'),
    waitFor,
  };
}

/** Kills children a failed test left behind. */
export function killAllChildren(): void {
  for (const p of live) p.kill('SIGKILL');
  live.clear();
}
