#!/usr/bin/env node
// The image's health check. It looks at what the container runs (the command
// line of its first process, or of the file given as argument):
//   start, server   the HTTP server must answer GET /healthz (AUTODIALER_HTTP_PORT);
//   simulate        the simulator must answer GET /_sim/stats (its --port, default 8090);
//   anything else   (worker, correlator, archiver, a one-off command) has no HTTP
//                   port: it is healthy while its process runs, which Docker sees.
// Exit 0: healthy; 1: not.
import { readFileSync } from 'node:fs';

const ROLES = new Set(['start', 'server', 'worker', 'correlator', 'archiver', 'simulate']);

/** The role and the options after it, from a NUL-separated command line. */
function roleOf(cmdline) {
  const args = cmdline.split('\0').filter((a) => a !== '');
  const cli = args.findIndex((a) => a.endsWith('autodialer.js') || a === 'autodialer');
  const rest = cli >= 0 ? args.slice(cli + 1) : args;
  const role = rest.find((a) => ROLES.has(a)) ?? null;
  return { role, args: rest };
}

function option(args, name) {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  const eq = args.find((a) => a.startsWith(`${name}=`));
  return eq === undefined ? undefined : eq.slice(name.length + 1);
}

/** Where to probe (null: nothing to probe). */
function probeOf({ role, args }, env) {
  if (role === 'start' || role === 'server') {
    const host = env.AUTODIALER_HTTP_HOST && !['0.0.0.0', '::', ''].includes(env.AUTODIALER_HTTP_HOST) ? env.AUTODIALER_HTTP_HOST : '127.0.0.1';
    return `http://${host.includes(':') ? `[${host}]` : host}:${env.AUTODIALER_HTTP_PORT || 8080}/healthz`;
  }
  if (role === 'simulate') return `http://127.0.0.1:${option(args, '--port') ?? 8090}/_sim/stats`;
  return null;
}

async function healthy() {
  const from = process.argv[2] ?? '/proc/1/cmdline';
  let cmdline;
  try {
    cmdline = readFileSync(from, 'utf8');
  } catch (err) {
    process.stderr.write(`healthcheck: cannot read the command line at ${from}: ${err.message}\n`);
    return 1;
  }
  const url = probeOf(roleOf(cmdline), process.env);
  if (url === null) return 0;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2500) });
    return res.ok ? 0 : 1;
  } catch {
    return 1;
  }
}

process.exitCode = await healthy();
