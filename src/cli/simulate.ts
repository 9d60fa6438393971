/**
 * `autodialer simulate`: runs the provider simulator (both provider families
 * on one port) until SIGINT or SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { MIX_KEYS, parseScript, SimulatorError, startSimulator } from '../simulator/index.js';
import type { MixKey, SimulatorOptions } from '../simulator/index.js';

export interface SimulateDeps {
  env: Readonly<Record<string, string | undefined>>;
  /** Where progress lines go (default: stdout). */
  log?: (line: string) => void;
  /** Resolves with the name of the signal that stops the simulator (default: SIGINT or SIGTERM). */
  untilStopped?: () => Promise<string>;
}

/** Flags as commander hands them over. */
export interface SimulateFlags {
  port?: number;
  host?: string;
  token?: string;
  apiKey?: string;
  username?: string;
  password?: string;
  callbackUrl?: string;
  callbackSecret?: string;
  callbackKeyIn?: string;
  callbackEncoding?: string;
  callbackRetries?: number;
  seed?: string;
  delay?: number;
  timeScale?: number;
  mix?: Partial<Record<MixKey, number>>;
  script?: string;
  duplicateCdrRate?: number;
  outOfOrderRate?: number;
  lostCdrRate?: number;
  http5xxRate?: number;
  http429Rate?: number;
  resetRate?: number;
  timeoutRate?: number;
  slowResponseMs?: number;
  cpsCap?: number;
  ledgerFile?: string;
  ledgerLimit?: number;
  timezone?: string;
  pbxTimezone?: string;
  numbersAsStrings?: string;
}

function number(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got ${JSON.stringify(value)}`);
  return n;
}

/** Parses `answered=0.6,no_answer=0.3,busy=0.1`. */
export function parseMix(value: string): Partial<Record<MixKey, number>> {
  const mix: Partial<Record<MixKey, number>> = {};
  for (const item of value.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq).trim();
    if (!(MIX_KEYS as readonly string[]).includes(key)) {
      throw new InvalidArgumentError(`unknown outcome ${JSON.stringify(key)}: use ${MIX_KEYS.join(', ')}`);
    }
    const weight = eq < 0 ? NaN : Number(item.slice(eq + 1));
    if (!Number.isFinite(weight) || weight < 0) throw new InvalidArgumentError(`${key} needs a weight of 0 or more, as in ${key}=0.5`);
    mix[key as MixKey] = weight;
  }
  return mix;
}

function readScript(path: string): Record<string, string[]> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SimulatorError('ERR_SIM_SCRIPT', `cannot read script file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SimulatorError('ERR_SIM_SCRIPT', `script file ${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseScript(raw, `script file ${path}`);
}

/** Turns the flags (and the environment's defaults) into raw simulator options. */
export function simulatorOptionsFromFlags(
  flags: SimulateFlags,
  env: Readonly<Record<string, string | undefined>>,
  loadScript: (path: string) => Record<string, string[]> = readScript,
): SimulatorOptions {
  const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());
  const seed = flags.seed === undefined ? undefined : /^-?\d+$/.test(flags.seed) ? Number(flags.seed) : flags.seed;
  const entries: Record<string, unknown> = {
    port: flags.port ?? 8090,
    host: flags.host,
    token: flags.token,
    apiKey: flags.apiKey,
    username: flags.username,
    password: flags.password,
    callbackUrl: nonEmpty(flags.callbackUrl) ?? nonEmpty(env.AUTODIALER_PUBLIC_URL),
    callbackSecret: nonEmpty(flags.callbackSecret) ?? nonEmpty(env.AUTODIALER_CALLBACK_SECRET),
    callbackKeyIn: flags.callbackKeyIn,
    callbackEncoding: flags.callbackEncoding,
    callbackRetries: flags.callbackRetries,
    seed,
    callbackDelayMs: flags.delay,
    timeScale: flags.timeScale,
    mix: flags.mix,
    script: flags.script === undefined ? undefined : loadScript(flags.script),
    duplicateCdrRate: flags.duplicateCdrRate,
    outOfOrderRate: flags.outOfOrderRate,
    lostCdrRate: flags.lostCdrRate,
    http5xxRate: flags.http5xxRate,
    http429Rate: flags.http429Rate,
    resetRate: flags.resetRate,
    timeoutRate: flags.timeoutRate,
    slowResponseMs: flags.slowResponseMs,
    cpsCap: flags.cpsCap,
    ledgerFile: flags.ledgerFile,
    ledgerLimit: flags.ledgerLimit,
    timezone: flags.timezone,
    pbxTimezone: flags.pbxTimezone,
    numbersAsStrings: flags.numbersAsStrings,
  };
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as SimulatorOptions;
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}

export function addSimulateCommand(program: Command, deps: SimulateDeps): void {
  const log = deps.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const rate = (flag: string, what: string) => new Option(`${flag} <rate>`, `${what}, 0 to 1 (default: 0)`).argParser(number);
  program
    .command('simulate')
    .description('run the telephony provider simulator (sipcall and pbx on one port) until SIGINT/SIGTERM')
    .addOption(new Option('--port <port>', 'port to listen on (0: any free port)').argParser(number).default(8090))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--token <token>', 'sipcall token the simulator accepts, 32 characters (default: 0123456789abcdef0123456789abcdef)')
    .option('--api-key <key>', 'pbx X-APIKEY the simulator accepts (default: sim-api-key)')
    .option('--username <user>', 'pbx Basic auth user (default: sim)')
    .option('--password <password>', 'pbx Basic auth password (default: sim-password)')
    .option('--callback-url <url>', "the dialer's public URL (default: AUTODIALER_PUBLIC_URL)")
    .option('--callback-secret <secret>', 'callback key sent to the dialer (default: AUTODIALER_CALLBACK_SECRET)')
    .addOption(new Option('--callback-key-in <where>', 'send the callback key in the query or a header (default: query)').choices(['query', 'header']))
    .addOption(new Option('--callback-encoding <encoding>', 'callback body encoding (default: json)').choices(['json', 'form']))
    .addOption(new Option('--callback-retries <n>', 'extra attempts for a failed callback post (default: 3)').argParser(number))
    .option('--seed <seed>', 'seed of the outcome draws, same seed, same outcomes (default: 1)')
    .addOption(new Option('--delay <ms>', 'milliseconds before the first callback of a call (default: 50)').argParser(number))
    .addOption(new Option('--time-scale <scale>', 'real time per simulated time, 0.001: a 10 s call lasts 10 ms (default: 0.001)').argParser(number))
    .addOption(new Option('--mix <weights>', `outcome weights, e.g. answered=0.6,no_answer=0.3,busy=0.1 (${MIX_KEYS.join(', ')}) (default: the built-in mix)`).argParser(parseMix))
    .option('--script <file>', 'JSON file of scripted outcomes: {"<number>": ["busy", "answered:1:30", …]} (default: none, outcomes drawn from the mix)')
    .addOption(rate('--duplicate-cdr-rate', 'share of CDRs sent twice'))
    .addOption(rate('--out-of-order-rate', 'share of CDRs sent before the status callbacks'))
    .addOption(rate('--lost-cdr-rate', 'share of CDRs never sent'))
    .addOption(rate('--http5xx-rate', 'share of requests answered HTTP 500'))
    .addOption(rate('--http429-rate', 'share of requests answered HTTP 429'))
    .addOption(rate('--reset-rate', 'share of requests whose connection is reset (the call is placed)'))
    .addOption(rate('--timeout-rate', 'share of requests never answered (the call is placed)'))
    .addOption(new Option('--slow-response-ms <ms>', 'milliseconds to wait before answering each request (default: 0)').argParser(number))
    .addOption(new Option('--cps-cap <n>', 'calls accepted per sliding second before 429, 0: no cap (default: 0)').argParser(number))
    .option('--ledger-file <path>', 'append every request to this JSONL file (default: none, kept in memory only)')
    .addOption(new Option('--ledger-limit <n>', 'ledger entries kept in memory (default: 100000)').argParser(number))
    .option('--timezone <zone>', 'sipcall CDR time zone (default Asia/Shanghai)')
    .option('--pbx-timezone <zone>', 'pbx calldate time zone (default Asia/Tehran)')
    .addOption(new Option('--numbers-as-strings <mode>', 'send numeric CDR fields as strings (default: never)').choices(['never', 'always', 'random']))
    .action(async (flags: SimulateFlags, command: Command) => {
      let options: SimulatorOptions;
      try {
        options = simulatorOptionsFromFlags(flags, deps.env);
      } catch (err) {
        if (err instanceof SimulatorError) command.error(err.message, { exitCode: 2, code: err.code });
        throw err;
      }
      let sim;
      try {
        sim = await startSimulator(options);
      } catch (err) {
        if (err instanceof SimulatorError) command.error(err.message, { exitCode: 2, code: err.code });
        const e = err as Error & { code?: string };
        command.error(`simulator cannot listen on ${options.host ?? '127.0.0.1'}:${options.port ?? 8090}: ${e.message}`, {
          exitCode: 1,
          code: e.code ?? 'ERR_SIM_LISTEN',
        });
      }
      const o = sim.options;
      log(`simulator listening on ${sim.url}`);
      log(`  sipcall: POST ${sim.url}/   pbx: PUT ${sim.url}/api/v4/call/originate/act   admin: ${sim.url}/_sim/stats`);
      log(o.callbackUrl === null ? '  callbacks: off (set --callback-url or AUTODIALER_PUBLIC_URL)' : `  callbacks: ${o.callbackUrl}/callbacks/…`);
      if (o.cpsCap > 0) log(`  cps cap: ${o.cpsCap}`);
      const signal = await (deps.untilStopped ?? untilSignal)();
      log(`${signal}: closing the simulator`);
      const stats = sim.stats();
      await sim.close();
      log(
        `requests ${stats.requestsTotal}, calls placed ${stats.callsPlaced}, callbacks posted ${stats.callbacksPosted} ` +
          `(failed ${stats.callbacksFailed}), cps violations ${stats.cpsViolations}, max in any second ${stats.maxInAnySecond}`,
      );
    });
}
