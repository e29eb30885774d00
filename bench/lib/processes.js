'use strict';

const { spawn, execFileSync } = require('node:child_process');
const { closeSync, openSync, readFileSync, readdirSync } = require('node:fs');
const http = require('node:http');
const net = require('node:net');

const children = new Set();

/**
 * Starts a Node.js child process with its output in `logFile` (or on this process's stderr when
 * there is none); `exited` settles when it ends.
 */
function startProcess(name, args, { env, cwd, logFile }) {
  const fd = logFile ? openSync(logFile, 'a') : 2;
  const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', fd, fd] });
  if (logFile) closeSync(fd);
  const proc = { name, child, pid: child.pid, logFile };
  proc.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal });
    });
  });
  children.add(proc);
  return proc;
}

async function stopProcess(proc, timeoutMs = 30_000) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
  await proc.exited;
  clearTimeout(timer);
}

/** For an interrupted run: end every child this process started, by pid. */
function killAll() {
  for (const proc of children) proc.child.kill('SIGKILL');
}

function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function httpGetStatus(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Polls `url` until it answers 200; fails early, with the log, when the process dies first. */
async function waitReady(proc, url, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  let exited = null;
  void proc.exited.then((result) => (exited = result));
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(`${proc.name} exited (${JSON.stringify(exited)}):\n${tail(proc.logFile)}`);
    }
    if ((await httpGetStatus(url)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `${proc.name} was not ready within ${timeoutMs / 1000} s:\n${tail(proc.logFile)}`,
  );
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

let clockTicks;
/** Kernel clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
function ticksPerSecond() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime from a /proc stat file, in microseconds; null once the task is gone. */
function statCpuMicros(file) {
  try {
    const stat = readFileSync(file, 'utf8');
    // Fields after the command name, which may itself hold spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1e6) / ticksPerSecond();
  } catch {
    return null;
  }
}

/** CPU of one process, all its threads included, in microseconds. */
function cpuMicros(pid) {
  return statCpuMicros(`/proc/${pid}/stat`);
}

/** CPU of a process's main thread alone (its thread id is the process id), in microseconds. */
function mainThreadCpuMicros(pid) {
  return statCpuMicros(`/proc/${pid}/task/${pid}/stat`);
}

function rssBytes(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Every process named `postgres` on this machine: the postmaster and all its children. */
function postgresPids() {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres')
        pids.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return pids;
}

/** Samples a process's RSS until stopped; `stop()` returns the peak in bytes. */
function rssSampler(pid, intervalMs = 200) {
  let peak = rssBytes(pid) ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid) ?? 0);
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssBytes(pid) ?? 0);
    },
  };
}

module.exports = {
  cpuMicros,
  freePort,
  mainThreadCpuMicros,
  killAll,
  postgresPids,
  rssBytes,
  rssSampler,
  startProcess,
  stopProcess,
  tail,
  waitReady,
};
