/**
 * A parser of Lua 5.1 (as Redis runs it) into the little tree the key check
 * (lua-key-check.ts) follows values through: expressions, statements and
 * functions, each call with its script line. It parses the scripts of src/,
 * not every program Lua accepts (no goto, no labels).
 */

export type Tok = { t: 'name' | 'num' | 'str' | 'op' | 'eof'; v: string; line: number };

const KEYWORDS = new Set(['and', 'break', 'do', 'else', 'elseif', 'end', 'false', 'for', 'function', 'if', 'in', 'local', 'nil', 'not', 'or', 'repeat', 'return', 'then', 'true', 'until', 'while']);

export function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  const longBracket = (at: number): number => {
    // '[' '='* '[' → the level, else -1
    let j = at + 1;
    while (src[j] === '=') j++;
    return src[j] === '[' ? j - at - 1 : -1;
  };
  const skipLong = (at: number, level: number): number => {
    const close = `]${'='.repeat(level)}]`;
    const end = src.indexOf(close, at);
    if (end < 0) throw new Error(`line ${line}: unfinished long bracket`);
    for (let j = at; j < end; j++) if (src[j] === '\n') line++;
    return end + close.length;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) i++;
    else if (src.startsWith('--', i)) {
      const level = src[i + 2] === '[' ? longBracket(i + 2) : -1;
      if (level >= 0) i = skipLong(i + 4 + level, level);
      else while (i < src.length && src[i] !== '\n') i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))![0];
      out.push({ t: 'name', v: m, line });
      i += m.length;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^(0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?)/.exec(src.slice(i))![0];
      out.push({ t: 'num', v: m, line });
      i += m.length;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let v = '';
      while (src[j] !== c) {
        if (j >= src.length || src[j] === '\n') throw new Error(`line ${line}: unfinished string`);
        if (src[j] === '\\') {
          v += src.slice(j, j + 2);
          j += 2;
        } else v += src[j++];
      }
      out.push({ t: 'str', v, line });
      i = j + 1;
    } else if (c === '[' && longBracket(i) >= 0) {
      const level = longBracket(i);
      const start = i + level + 2;
      const end = skipLong(start, level);
      out.push({ t: 'str', v: src.slice(start, end - level - 2), line });
      i = end;
    } else {
      const op = ['...', '..', '==', '~=', '<=', '>='].find((o) => src.startsWith(o, i)) ?? c;
      if (!/^(\.\.\.|\.\.|==|~=|<=|>=|[-+*/%^#<>=(){}[\];:,.])$/.test(op)) throw new Error(`line ${line}: unexpected ${JSON.stringify(c)}`);
      out.push({ t: 'op', v: op, line });
      i += op.length;
    }
  }
  out.push({ t: 'eof', v: '', line });
  return out;
}

export type Exp =
  | { k: 'name'; name: string; line: number }
  | { k: 'index'; obj: Exp; key: Exp; line: number }
  | { k: 'call'; fn: Exp; args: Exp[]; method?: string; line: number }
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'nil' | 'false' | 'true' | 'vararg' }
  | { k: 'func'; fn: Fn }
  | { k: 'table'; items: { key?: Exp; value: Exp }[]; site: number }
  | { k: 'bin'; op: string; l: Exp; r: Exp }
  | { k: 'un'; op: string; e: Exp }
  | { k: 'paren'; e: Exp };

export interface Fn {
  id: number;
  params: string[];
  body: Stmt[];
}

export type Stmt =
  | { k: 'local'; names: string[]; exps: Exp[] }
  | { k: 'assign'; targets: Exp[]; exps: Exp[] }
  | { k: 'call'; call: Exp }
  | { k: 'fn'; target: Exp; fn: Fn }
  | { k: 'if'; conds: Exp[]; blocks: Stmt[][] }
  | { k: 'while'; cond: Exp; body: Stmt[] }
  | { k: 'fornum'; name: string; exps: Exp[]; body: Stmt[] }
  | { k: 'forin'; names: string[]; exps: Exp[]; body: Stmt[] }
  | { k: 'repeat'; body: Stmt[]; cond: Exp }
  | { k: 'do'; body: Stmt[] }
  | { k: 'return'; exps: Exp[]; fn: Fn }
  | { k: 'break' };

const BINARY: Record<string, number> = { or: 1, and: 2, '<': 3, '>': 3, '<=': 3, '>=': 3, '~=': 3, '==': 3, '..': 5, '+': 6, '-': 6, '*': 7, '/': 7, '%': 7, '^': 10 };
const RIGHT = new Set(['..', '^']);
const UNARY_PRIORITY = 8;

export class Parser {
  private p = 0;
  private fnIds = 0;
  private sites = 0;
  readonly top: Fn;

  constructor(private readonly toks: Tok[]) {
    this.top = { id: this.fnIds++, params: [], body: [] };
    this.top.body = this.block(this.top);
    if (this.peek().t !== 'eof') this.fail('a statement');
  }

  private peek(o = 0): Tok {
    return this.toks[Math.min(this.p + o, this.toks.length - 1)]!;
  }
  private is(v: string): boolean {
    const t = this.peek();
    return (t.t === 'op' || t.t === 'name') && t.v === v;
  }
  private eat(v: string): void {
    if (!this.is(v)) this.fail(`'${v}'`);
    this.p++;
  }
  private fail(what: string): never {
    const t = this.peek();
    throw new Error(`line ${t.line}: expected ${what}, found ${JSON.stringify(t.v)}`);
  }
  private ident(): string {
    const t = this.peek();
    if (t.t !== 'name' || KEYWORDS.has(t.v)) this.fail('a name');
    this.p++;
    return t.v;
  }

  private block(fn: Fn): Stmt[] {
    const out: Stmt[] = [];
    for (;;) {
      if (this.is(';')) {
        this.p++;
        continue;
      }
      const t = this.peek();
      if (t.t === 'eof' || (t.t === 'name' && ['end', 'else', 'elseif', 'until'].includes(t.v))) return out;
      if (this.is('return')) {
        this.p++;
        const exps = this.peek().t === 'eof' || ['end', 'else', 'elseif', 'until', ';'].includes(this.peek().v) ? [] : this.expList();
        out.push({ k: 'return', exps, fn });
        if (this.is(';')) this.p++;
        return out;
      }
      out.push(this.statement(fn));
    }
  }

  private statement(fn: Fn): Stmt {
    const t = this.peek();
    if (t.t === 'name') {
      switch (t.v) {
        case 'break':
          this.p++;
          return { k: 'break' };
        case 'do': {
          this.p++;
          const body = this.block(fn);
          this.eat('end');
          return { k: 'do', body };
        }
        case 'while': {
          this.p++;
          const cond = this.exp();
          this.eat('do');
          const body = this.block(fn);
          this.eat('end');
          return { k: 'while', cond, body };
        }
        case 'repeat': {
          this.p++;
          const body = this.block(fn);
          this.eat('until');
          return { k: 'repeat', body, cond: this.exp() };
        }
        case 'if': {
          this.p++;
          const conds: Exp[] = [this.exp()];
          this.eat('then');
          const blocks: Stmt[][] = [this.block(fn)];
          while (this.is('elseif')) {
            this.p++;
            conds.push(this.exp());
            this.eat('then');
            blocks.push(this.block(fn));
          }
          if (this.is('else')) {
            this.p++;
            blocks.push(this.block(fn));
          }
          this.eat('end');
          return { k: 'if', conds, blocks };
        }
        case 'for': {
          this.p++;
          const first = this.ident();
          if (this.is('=')) {
            this.p++;
            const exps = this.expList();
            this.eat('do');
            const body = this.block(fn);
            this.eat('end');
            return { k: 'fornum', name: first, exps, body };
          }
          const names = [first];
          while (this.is(',')) {
            this.p++;
            names.push(this.ident());
          }
          this.eat('in');
          const exps = this.expList();
          this.eat('do');
          const body = this.block(fn);
          this.eat('end');
          return { k: 'forin', names, exps, body };
        }
        case 'function': {
          this.p++;
          let target: Exp = { k: 'name', name: this.ident(), line: t.line };
          while (this.is('.') || this.is(':')) {
            const method = this.is(':');
            this.p++;
            target = { k: 'index', obj: target, key: { k: 'str', v: this.ident() }, line: t.line };
            if (method) return { k: 'fn', target, fn: this.funcBody(['self']) };
          }
          return { k: 'fn', target, fn: this.funcBody([]) };
        }
        case 'local': {
          this.p++;
          if (this.is('function')) {
            this.p++;
            const name = this.ident();
            return { k: 'fn', target: { k: 'name', name, line: t.line }, fn: this.funcBody([]) };
          }
          const names = [this.ident()];
          while (this.is(',')) {
            this.p++;
            names.push(this.ident());
          }
          if (!this.is('=')) return { k: 'local', names, exps: [] };
          this.p++;
          return { k: 'local', names, exps: this.expList() };
        }
      }
    }
    const first = this.suffixed();
    if (this.is('=') || this.is(',')) {
      const targets = [first];
      while (this.is(',')) {
        this.p++;
        targets.push(this.suffixed());
      }
      this.eat('=');
      for (const x of targets) if (x.k !== 'name' && x.k !== 'index') throw new Error(`line ${t.line}: cannot assign to ${x.k}`);
      return { k: 'assign', targets, exps: this.expList() };
    }
    if (first.k !== 'call') throw new Error(`line ${t.line}: a statement that is neither an assignment nor a call`);
    return { k: 'call', call: first };
  }

  private funcBody(implicit: string[]): Fn {
    const fn: Fn = { id: this.fnIds++, params: [...implicit], body: [] };
    this.eat('(');
    while (!this.is(')')) {
      if (this.is('...')) this.p++;
      else fn.params.push(this.ident());
      if (this.is(',')) this.p++;
    }
    this.eat(')');
    fn.body = this.block(fn);
    this.eat('end');
    return fn;
  }

  private expList(): Exp[] {
    const out = [this.exp()];
    while (this.is(',')) {
      this.p++;
      out.push(this.exp());
    }
    return out;
  }

  private exp(limit = 0): Exp {
    let left: Exp;
    const t = this.peek();
    if ((t.t === 'name' && t.v === 'not') || (t.t === 'op' && (t.v === '-' || t.v === '#'))) {
      this.p++;
      left = { k: 'un', op: t.v, e: this.exp(UNARY_PRIORITY) };
    } else left = this.simple();
    for (;;) {
      const op = this.peek();
      const prio = (op.t === 'op' || op.t === 'name') && Object.hasOwn(BINARY, op.v) ? BINARY[op.v]! : -1;
      if (prio <= limit) return left;
      this.p++;
      const right = this.exp(RIGHT.has(op.v) ? prio - 1 : prio);
      left = { k: 'bin', op: op.v, l: left, r: right };
    }
  }

  private simple(): Exp {
    const t = this.peek();
    if (t.t === 'num') {
      this.p++;
      return { k: 'num', v: Number(t.v) };
    }
    if (t.t === 'str') {
      this.p++;
      return { k: 'str', v: t.v };
    }
    if (t.t === 'name' && (t.v === 'nil' || t.v === 'true' || t.v === 'false')) {
      this.p++;
      return { k: t.v };
    }
    if (this.is('...')) {
      this.p++;
      return { k: 'vararg' };
    }
    if (this.is('function')) {
      this.p++;
      return { k: 'func', fn: this.funcBody([]) };
    }
    if (this.is('{')) return this.table();
    return this.suffixed();
  }

  private table(): Exp {
    this.eat('{');
    const items: { key?: Exp; value: Exp }[] = [];
    while (!this.is('}')) {
      if (this.is('[')) {
        this.p++;
        const key = this.exp();
        this.eat(']');
        this.eat('=');
        items.push({ key, value: this.exp() });
      } else if (this.peek().t === 'name' && this.peek(1).v === '=' && this.peek(1).t === 'op') {
        const key: Exp = { k: 'str', v: this.ident() };
        this.eat('=');
        items.push({ key, value: this.exp() });
      } else items.push({ value: this.exp() });
      if (this.is(',') || this.is(';')) this.p++;
      else if (!this.is('}')) this.fail("'}'");
    }
    this.eat('}');
    return { k: 'table', items, site: this.sites++ };
  }

  private suffixed(): Exp {
    const t = this.peek();
    let e: Exp;
    if (this.is('(')) {
      this.p++;
      e = { k: 'paren', e: this.exp() };
      this.eat(')');
    } else e = { k: 'name', name: this.ident(), line: t.line };
    for (;;) {
      const line = this.peek().line;
      if (this.is('.')) {
        this.p++;
        e = { k: 'index', obj: e, key: { k: 'str', v: this.ident() }, line };
      } else if (this.is('[')) {
        this.p++;
        const key = this.exp();
        this.eat(']');
        e = { k: 'index', obj: e, key, line };
      } else if (this.is(':')) {
        this.p++;
        const method = this.ident();
        e = { k: 'call', fn: e, method, args: this.args(), line };
      } else if (this.is('(') || this.is('{') || this.peek().t === 'str') {
        e = { k: 'call', fn: e, args: this.args(), line };
      } else return e;
    }
  }

  private args(): Exp[] {
    if (this.peek().t === 'str') {
      const v = this.peek().v;
      this.p++;
      return [{ k: 'str', v }];
    }
    if (this.is('{')) return [this.table()];
    this.eat('(');
    const args = this.is(')') ? [] : this.expList();
    this.eat(')');
    return args;
  }
}

