/**
 * A static check of a Lua script's keys: every key argument of a
 * redis.call / redis.pcall must be a key the caller declared, i.e. a value
 * read out of KEYS, never a name built inside the script (`base .. ':' .. n`,
 * `KEYS[1] .. ':x'`, ARGV[2], a literal). A Redis Cluster routes a script by
 * its declared keys, and Redis checks none of the others.
 *
 * The script is parsed (Lua 5.1, as Redis runs it) and the values that flow
 * into each key argument are followed through locals, table fields and
 * elements, function parameters and returns, and for-in loops, without
 * regard to order or scope (a name is one variable throughout the script,
 * a table one per constructor): a key argument passes when every value that
 * can reach it was read out of KEYS. nil and false are left out (Redis
 * refuses them as arguments: they touch no key), and so is a function
 * parameter no call ever gives a value (its function never runs).
 * Which arguments are keys comes from Redis itself (COMMAND), passed in as
 * `keySpec`.
 */
import { Parser, tokenize, type Exp, type Fn, type Stmt } from './lua-parse.js';

/** The key positions of a command, as COMMAND gives them (first, last, step; last < 0 counts from the end). */
export interface KeySpec {
  first: number;
  last: number;
  step: number;
  /** Positions depend on the arguments (EVAL, ZUNIONSTORE, XREAD…): not checked here. */
  movable: boolean;
  /** Subcommands by name (lower case), each with its own positions. */
  sub?: Record<string, KeySpec>;
}

export interface KeyProblem {
  line: number;
  command: string;
  message: string;
}

// Abstract values: KEY (read out of KEYS), OTHER (anything else), the KEYS and ARGV tables, a table per constructor (t<site>), a function (f<id>).
type Val = string;
type VSet = Set<Val>;

interface TableCell {
  fields: Map<string, VSet>;
  pos: Map<number, VSet>;
  elems: VSet;
}

/** Every key argument of every redis.call / redis.pcall of `source` that may not come out of KEYS. */
export function checkScriptKeys(source: string, keySpec: (command: string) => KeySpec | null): KeyProblem[] {
  const toks = tokenize(source);
  const parser = new Parser(toks);
  const problems: KeyProblem[] = [];
  // redis.call is only ever called where it is named: a copy of it (local call = redis.call) would hide its calls.
  toks.forEach((t, i) => {
    if (t.t === 'name' && t.v === 'redis' && toks[i + 1]?.v === '.' && (toks[i + 2]?.v === 'call' || toks[i + 2]?.v === 'pcall') && toks[i + 3]?.v !== '(') {
      problems.push({ line: t.line, command: '?', message: `redis.${toks[i + 2]!.v} is used other than called by its name: its calls cannot be checked` });
    }
  });
  const vars = new Map<string, VSet>();
  const tables = new Map<string, TableCell>();
  const params = new Set<string>();
  const returns = new Map<number, VSet[]>();
  let changed = true;

  const add = (into: VSet, from: Iterable<Val>): void => {
    for (const v of from) {
      if (!into.has(v)) {
        into.add(v);
        changed = true;
      }
    }
  };
  const cell = (t: Val): TableCell => {
    let c = tables.get(t);
    if (!c) {
      c = { fields: new Map(), pos: new Map(), elems: new Set() };
      tables.set(t, c);
    }
    return c;
  };
  const slot = <K>(m: Map<K, VSet>, key: K): VSet => {
    let s = m.get(key);
    if (!s) {
      s = new Set();
      m.set(key, s);
    }
    return s;
  };
  const keysExtra: VSet = new Set();
  const assigned = new Set<string>();
  const collectNames = (body: Stmt[]): void => {
    const visit = (s: Stmt): void => {
      if (s.k === 'local') s.names.forEach((n) => assigned.add(n));
      if (s.k === 'assign') for (const x of s.targets) if (x.k === 'name') assigned.add(x.name);
      if (s.k === 'fn' && s.target.k === 'name') assigned.add(s.target.name);
      if (s.k === 'fornum') assigned.add(s.name);
      if (s.k === 'forin') s.names.forEach((n) => assigned.add(n));
      for (const b of blocksOf(s)) b.forEach(visit);
    };
    body.forEach(visit);
  };
  const blocksOf = (s: Stmt): Stmt[][] => {
    switch (s.k) {
      case 'if':
        return s.blocks;
      case 'while':
      case 'fornum':
      case 'forin':
      case 'repeat':
      case 'do':
        return [s.body];
      case 'fn':
        return [s.fn.body];
      default:
        return [];
    }
  };

  /** The values of an element read (`t[key]`) from every table value in `objs`. */
  const readIndex = (objs: VSet, key: Exp | null): VSet => {
    const out: VSet = new Set();
    for (const o of objs) {
      if (o === 'KEYS') {
        if (key?.k === 'str') continue; // KEYS.x is nil
        out.add('KEY');
        keysExtra.forEach((v) => out.add(v));
      } else if (o.startsWith('t')) {
        const c = cell(o);
        if (key?.k === 'str') c.fields.get(key.v)?.forEach((v) => out.add(v));
        else if (key?.k === 'num') {
          c.pos.get(key.v)?.forEach((v) => out.add(v));
          c.elems.forEach((v) => out.add(v));
        } else {
          for (const s of [...c.fields.values(), ...c.pos.values(), c.elems]) s.forEach((v) => out.add(v));
        }
      } else out.add('OTHER');
    }
    return out;
  };

  /** Values of a call at result `at` (0 = the first). */
  const callValues = (e: Extract<Exp, { k: 'call' }>, at: number): VSet => {
    if (e.method) return new Set(['OTHER']);
    if (e.fn.k === 'name' && e.fn.name === 'unpack' && !assigned.has('unpack')) return readIndex(evalExp(e.args[0] ?? { k: 'nil' }), null);
    const out: VSet = new Set();
    for (const f of evalExp(e.fn)) {
      if (f.startsWith('f')) returns.get(Number(f.slice(1)))?.[at]?.forEach((v) => out.add(v));
      else out.add('OTHER');
    }
    return out;
  };

  function evalExp(e: Exp): VSet {
    switch (e.k) {
      case 'name': {
        const v = new Set(vars.get(e.name) ?? []);
        // KEYS and ARGV are Redis's tables (and whatever a parameter of the same name is given).
        if (e.name === 'KEYS' || e.name === 'ARGV') return v.add(e.name);
        // A name never given a value here is a global of Redis's Lua (redis, cjson, math…); a parameter never given one is never run.
        return assigned.has(e.name) || params.has(e.name) ? v : new Set(['OTHER']);
      }
      case 'index':
        return readIndex(evalExp(e.obj), e.key.k === 'str' || e.key.k === 'num' ? e.key : null);
      case 'call':
        return callValues(e, 0);
      case 'str':
      case 'num':
      case 'true':
      case 'vararg':
        return new Set(['OTHER']);
      case 'nil':
      case 'false':
        return new Set();
      case 'func':
        return new Set([`f${e.fn.id}`]);
      case 'table':
        return new Set([`t${e.site}`]);
      case 'bin':
        if (e.op === 'or') return new Set([...evalExp(e.l), ...evalExp(e.r)]);
        // `a and b` is b, or a falsy a (nil, false: no key).
        if (e.op === 'and') return evalExp(e.r);
        return new Set(['OTHER']);
      case 'un':
      case 'paren':
        return e.k === 'paren' ? evalExp(e.e) : new Set(['OTHER']);
    }
  }

  /** Values of an expression list, position by position up to `count` (the last call gives the rest). */
  const evalList = (exps: Exp[], count: number): VSet[] => {
    const out: VSet[] = [];
    for (let i = 0; i < count; i++) {
      if (i < exps.length - 1) out.push(evalExp(exps[i]!));
      else if (exps.length === 0) out.push(new Set());
      else {
        const last = exps[exps.length - 1]!;
        const off = i - (exps.length - 1);
        if (last.k === 'call') out.push(callValues(last, off));
        else if (last.k === 'vararg') out.push(new Set(['OTHER']));
        else out.push(off === 0 ? evalExp(last) : new Set());
      }
    }
    return out;
  };

  const assignTo = (target: Exp, values: VSet): void => {
    if (target.k === 'name') {
      add(slot(vars, target.name), values);
      return;
    }
    if (target.k !== 'index') return;
    for (const o of evalExp(target.obj)) {
      if (o === 'KEYS') add(keysExtra, [...values].filter((v) => v !== 'KEY'));
      if (!o.startsWith('t')) continue;
      const c = cell(o);
      if (target.key.k === 'str') add(slot(c.fields, target.key.v), values);
      else if (target.key.k === 'num') add(slot(c.pos, target.key.v), values);
      else add(c.elems, values);
    }
  };

  /** What a call gives each function it may call: arguments to parameters; table.insert and pcall too. */
  const bindCall = (e: Extract<Exp, { k: 'call' }>): void => {
    if (e.method) return;
    const fnName = e.fn.k === 'index' && e.fn.obj.k === 'name' && e.fn.key.k === 'str' ? `${e.fn.obj.name}.${e.fn.key.v}` : e.fn.k === 'name' ? e.fn.name : '';
    if (fnName === 'table.insert' && !assigned.has('table')) {
      const value = evalExp(e.args[e.args.length - 1] ?? { k: 'nil' });
      for (const o of evalExp(e.args[0] ?? { k: 'nil' })) if (o.startsWith('t')) add(cell(o).elems, value);
      return;
    }
    let callee = e.fn;
    let args = e.args;
    if ((fnName === 'pcall' || fnName === 'xpcall') && !assigned.has(fnName)) {
      callee = args[0] ?? { k: 'nil' };
      args = fnName === 'pcall' ? args.slice(1) : args.slice(2);
    }
    for (const f of evalExp(callee)) {
      if (!f.startsWith('f')) {
        // A function handed to one of Redis's own (string.gsub, table.sort…) is called with what that one gives it.
        for (const a of args) for (const v of evalExp(a)) if (v.startsWith('f')) fnById.get(Number(v.slice(1)))!.params.forEach((p) => add(slot(vars, p), ['OTHER']));
        continue;
      }
      const fn = fnById.get(Number(f.slice(1)))!;
      evalList(args, fn.params.length).forEach((vals, i) => add(slot(vars, fn.params[i]!), vals));
    }
  };

  const fnById = new Map<number, Fn>();
  const visitExp = (e: Exp, onCall: (c: Extract<Exp, { k: 'call' }>) => void): void => {
    switch (e.k) {
      case 'index':
        visitExp(e.obj, onCall);
        visitExp(e.key, onCall);
        return;
      case 'call':
        onCall(e);
        visitExp(e.fn, onCall);
        e.args.forEach((a) => visitExp(a, onCall));
        return;
      case 'func':
        registerFn(e.fn);
        e.fn.body.forEach((s) => visitStmt(s, onCall));
        return;
      case 'table': {
        let n = 0;
        const c = cell(`t${e.site}`);
        e.items.forEach((item, i) => {
          if (item.key) visitExp(item.key, onCall);
          visitExp(item.value, onCall);
          if (item.key?.k === 'str') add(slot(c.fields, item.key.v), evalExp(item.value));
          else if (item.key?.k === 'num') add(slot(c.pos, item.key.v), evalExp(item.value));
          else if (item.key) add(c.elems, evalExp(item.value));
          else if (i === e.items.length - 1 && (item.value.k === 'call' || item.value.k === 'vararg')) add(c.elems, item.value.k === 'call' ? callValues(item.value, 0) : ['OTHER']);
          else add(slot(c.pos, ++n), evalExp(item.value));
        });
        return;
      }
      case 'bin':
        visitExp(e.l, onCall);
        visitExp(e.r, onCall);
        return;
      case 'un':
      case 'paren':
        visitExp(e.e, onCall);
        return;
      default:
        return;
    }
  };
  const registerFn = (fn: Fn): void => {
    if (fnById.has(fn.id)) return;
    fnById.set(fn.id, fn);
    fn.params.forEach((p) => params.add(p));
    collectNames(fn.body);
  };

  const visitStmt = (s: Stmt, onCall: (c: Extract<Exp, { k: 'call' }>) => void): void => {
    const exps: Exp[] = [];
    switch (s.k) {
      case 'local':
        exps.push(...s.exps);
        evalList(s.exps, s.names.length).forEach((v, i) => add(slot(vars, s.names[i]!), v));
        break;
      case 'assign':
        exps.push(...s.exps, ...s.targets);
        evalList(s.exps, s.targets.length).forEach((v, i) => assignTo(s.targets[i]!, v));
        break;
      case 'call':
        exps.push(s.call);
        break;
      case 'fn':
        registerFn(s.fn);
        if (s.target.k === 'index') exps.push(s.target);
        assignTo(s.target, new Set([`f${s.fn.id}`]));
        break;
      case 'if':
        exps.push(...s.conds);
        break;
      case 'while':
      case 'repeat':
        exps.push(s.cond);
        break;
      case 'fornum':
        exps.push(...s.exps);
        add(slot(vars, s.name), ['OTHER']);
        break;
      case 'forin': {
        exps.push(...s.exps);
        const first = s.exps[0];
        const iter = first?.k === 'call' && first.fn.k === 'name' && (first.fn.name === 'ipairs' || first.fn.name === 'pairs') && !assigned.has(first.fn.name) ? first : null;
        if (iter) {
          add(slot(vars, s.names[0]!), ['OTHER']);
          const value = readIndex(evalExp(iter.args[0] ?? { k: 'nil' }), null);
          if (s.names[1]) add(slot(vars, s.names[1]), value);
        } else s.names.forEach((n) => add(slot(vars, n), ['OTHER']));
        break;
      }
      case 'return': {
        exps.push(...s.exps);
        const now = returns.get(s.fn.id) ?? [];
        const vals = evalList(s.exps, Math.max(s.exps.length, 3));
        vals.forEach((v, i) => {
          now[i] ??= new Set();
          add(now[i]!, v);
        });
        returns.set(s.fn.id, now);
        break;
      }
      default:
        break;
    }
    exps.forEach((e) => visitExp(e, onCall));
    for (const b of blocksOf(s)) b.forEach((x) => visitStmt(x, onCall));
  };

  // Every function and every name given a value, before any value is followed.
  const prepass = (body: Stmt[]): void => {
    const inExp = (e: Exp): void => {
      switch (e.k) {
        case 'func':
          registerFn(e.fn);
          prepass(e.fn.body);
          return;
        case 'index':
          inExp(e.obj);
          inExp(e.key);
          return;
        case 'call':
          inExp(e.fn);
          e.args.forEach(inExp);
          return;
        case 'table':
          e.items.forEach((i) => {
            if (i.key) inExp(i.key);
            inExp(i.value);
          });
          return;
        case 'bin':
          inExp(e.l);
          inExp(e.r);
          return;
        case 'un':
        case 'paren':
          inExp(e.e);
          return;
        default:
          return;
      }
    };
    for (const st of body) {
      if (st.k === 'fn') registerFn(st.fn);
      const exps: Exp[] =
        st.k === 'local' ? st.exps : st.k === 'assign' ? [...st.exps, ...st.targets] : st.k === 'call' ? [st.call] : st.k === 'if' ? st.conds : st.k === 'while' || st.k === 'repeat' ? [st.cond] : st.k === 'fornum' || st.k === 'forin' || st.k === 'return' ? st.exps : [];
      exps.forEach(inExp);
      blocksOf(st).forEach(prepass);
    }
  };
  registerFn(parser.top);
  prepass(parser.top.body);
  for (let round = 0; changed; round++) {
    if (round > 1000) throw new Error('the key check found no fixed point');
    changed = false;
    parser.top.body.forEach((s) => visitStmt(s, bindCall));
  }

  // The checks: each redis.call / redis.pcall, its key arguments.
  const check = (e: Extract<Exp, { k: 'call' }>): void => {
    const f = e.fn;
    if (f.k !== 'index' || f.obj.k !== 'name' || f.obj.name !== 'redis' || f.key.k !== 'str' || (f.key.v !== 'call' && f.key.v !== 'pcall')) return;
    const line = e.line;
    const cmd = e.args[0];
    if (cmd?.k !== 'str') {
      problems.push({ line, command: '?', message: 'the command is not a literal: its keys cannot be checked' });
      return;
    }
    const name = cmd.v.toLowerCase();
    let spec = keySpec(name);
    if (!spec) {
      problems.push({ line, command: name, message: 'Redis does not know this command' });
      return;
    }
    if (spec.sub) {
      const sub = e.args[1];
      spec = sub?.k === 'str' ? (spec.sub[sub.v.toLowerCase()] ?? null) : null;
      if (!spec) {
        problems.push({ line, command: name, message: 'the subcommand is not a literal Redis knows' });
        return;
      }
    }
    if (spec.movable) {
      problems.push({ line, command: name, message: 'its key positions depend on its arguments: not checked here' });
      return;
    }
    if (spec.first <= 0 || spec.step <= 0) return;
    // Positions count the command as 0; a last key position below 0 counts from the end.
    const args = e.args.slice(1);
    const tail = args[args.length - 1];
    const many = tail !== undefined && (tail.k === 'call' || tail.k === 'vararg');
    const isKey = (pos: number): boolean => pos >= spec.first && (pos - spec.first) % spec.step === 0 && (spec.last >= 0 ? pos <= spec.last : many || pos <= args.length + 1 + spec.last);
    const flag = (arg: Exp, values: VSet, pos: string): void => {
      const not = [...values].filter((v) => v !== 'KEY');
      if (not.length > 0) problems.push({ line, command: name, message: `key argument ${pos} (${show(arg)}) may be ${not.map(nameOf).join(', ')}, not a key declared in KEYS` });
    };
    args.forEach((arg, i) => {
      const pos = i + 1;
      if (!(many && pos === args.length)) {
        if (isKey(pos)) flag(arg, evalExp(arg), String(pos));
        return;
      }
      // A last argument of many values (unpack(KEYS, i, j)) stands for every position from its own on: checked when one of them is a key.
      const holdsKey = spec.last < 0 || spec.last >= pos;
      if (holdsKey) flag(arg, arg.k === 'call' ? callValuesAll(arg) : new Set(['OTHER']), `${pos}…`);
    });
  };
  const callValuesAll = (e: Extract<Exp, { k: 'call' }>): VSet => {
    if (e.fn.k === 'name' && e.fn.name === 'unpack' && !assigned.has('unpack')) return readIndex(evalExp(e.args[0] ?? { k: 'nil' }), null);
    const out: VSet = new Set();
    for (let i = 0; i < 3; i++) callValues(e, i).forEach((v) => out.add(v));
    return out;
  };
  const nameOf = (v: Val): string => (v === 'OTHER' ? 'a value built or read in the script' : v === 'KEYS' || v === 'ARGV' ? `the ${v} table` : v.startsWith('t') ? 'a table' : 'a function');
  parser.top.body.forEach((s) => visitStmt(s, check));
  // A call met on more than one path of the walk is one problem.
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function show(e: Exp): string {
  switch (e.k) {
    case 'name':
      return e.name;
    case 'index':
      return e.key.k === 'str' ? `${show(e.obj)}.${e.key.v}` : `${show(e.obj)}[${show(e.key)}]`;
    case 'call':
      return `${show(e.fn)}(…)`;
    case 'str':
      return `'${e.v}'`;
    case 'num':
      return String(e.v);
    case 'bin':
      return `${show(e.l)} ${e.op} ${show(e.r)}`;
    case 'paren':
      return `(${show(e.e)})`;
    default:
      return e.k;
  }
}
