/**
 * Test peers for the simulator: a real node:http callback receiver on port 0,
 * hand-built multipart bodies, and raw undici clients.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { DEFAULT_TOKEN } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';

export const TOKEN = DEFAULT_TOKEN;
export const PBX_AUTH = {
  'x-apikey': 'sim-api-key',
  authorization: `Basic ${Buffer.from('sim:sim-password').toString('base64')}`,
};

export interface Received {
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Answer the next `n` callbacks with HTTP 500. */
  failNext(n: number): void;
  /** Callbacks received on one path (`/callbacks/sipcall/cdr`, …). */
  on(path: string): Received[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  let failures = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failures > 0) {
        failures--;
        res.writeHead(500).end('try again');
        return;
      }
      const url = new URL(req.url ?? '/', 'http://receiver');
      const text = Buffer.concat(chunks).toString('utf8');
      const body = (req.headers['content-type'] ?? '').startsWith('application/json')
        ? (JSON.parse(text) as Record<string, unknown>)
        : Object.fromEntries(new URLSearchParams(text));
      received.push({ path: url.pathname, query: url.searchParams, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    failNext: (n) => {
      failures = n;
    },
    on: (path) => received.filter((r) => r.path === path),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A multipart/form-data body built by hand (CRLF line breaks). */
export function multipart(fields: Record<string, string>, boundary = '----simTestBoundary7MA4YWxk'): Buffer {
  const parts = Object.entries(fields).map(
    ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
  );
  return Buffer.from(`${parts.join('')}--${boundary}--\r\n`);
}

export interface Reply {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

export function makeClient() {
  const agent = new Agent({ connections: 64 });
  async function send(url: string, method: 'POST' | 'PUT' | 'GET', body: string | Buffer | undefined, headers: Record<string, string>): Promise<Reply> {
    const res = await request(url, { method, body, headers, dispatcher: agent });
    const text = await res.body.text();
    return { statusCode: res.statusCode, headers: res.headers, json: JSON.parse(text) as Record<string, unknown> };
  }
  return {
    agent,
    send,
    /** POST a sipcall request as multipart/form-data (or urlencoded). */
    sipcall(sim: Simulator, fields: Record<string, string>, encoding: 'multipart' | 'urlencoded' = 'multipart', path = '/'): Promise<Reply> {
      if (encoding === 'urlencoded') {
        return send(sim.url + path, 'POST', new URLSearchParams(fields).toString(), {
          'content-type': 'application/x-www-form-urlencoded',
        });
      }
      const boundary = '----simTestBoundary7MA4YWxk';
      return send(sim.url + path, 'POST', multipart(fields, boundary), {
        'content-type': `multipart/form-data; boundary=${boundary}`,
      });
    },
    /** PUT a pbx originate request with JSON body. */
    pbx(sim: Simulator, body: unknown, headers: Record<string, string> = PBX_AUTH): Promise<Reply> {
      return send(`${sim.url}/api/v4/call/originate/act`, 'PUT', JSON.stringify(body), {
        'content-type': 'application/json',
        ...headers,
      });
    },
    close: () => agent.close(),
  };
}

export function playVoice(destnumber: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    service: 'App.Sip_Call.PlayVoice',
    token: TOKEN,
    voicetype: '2',
    destnumber,
    voicefile: 'http://files.example/test.mp3',
    chengshudu: '1',
    userid: '1@extGroup-1',
    ...extra,
  };
}

export function makeCall(destnumber: string, extra: Record<string, string> = {}): Record<string, string> {
  return { service: 'App.Sip_Call.MakeCall', token: TOKEN, extnumber: '20280003', destnumber, ...extra };
}

export function doubleCall(bnumber: string, extra: Record<string, string> = {}): Record<string, string> {
  return { service: 'App.Sip_Call.DoubleCall', token: TOKEN, extnumber: '20280003', anumber: '13800000001', bnumber, ...extra };
}

export function originate(callee: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { caller: '557', callee, context: 'main_routing', caller_id: '557', trunk_name: 'cisco', timeout: '30', ...extra };
}
