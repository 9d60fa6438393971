/**
 * /openapi.json is made from the routes' own schemas, validates as OpenAPI
 * 3.0, names the bearer scheme and lists the error codes; /docs serves the
 * reference page under the server's security headers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3 } from 'openapi-types';
import { startHarness, type Harness } from '../support/harness.js';
import { API_ERROR_CODES } from '../../src/http/api-errors.js';

describe('OpenAPI document', () => {
  let h: Harness;
  let doc: OpenAPIV3.Document;

  beforeAll(async () => {
    h = await startHarness('openapi');
    const res = await fetch(`${h.serverUrl}/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as OpenAPIV3.Document;
  });
  afterAll(async () => {
    await h.close();
  });

  it('validates as OpenAPI 3.0 with swagger-parser', async () => {
    expect(doc.openapi).toMatch(/^3\.0\./);
    // validate() dereferences in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('has the bearer scheme, required everywhere but on the public routes', () => {
    expect(doc.components?.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/healthz']?.get?.security).toEqual([]);
    expect(doc.paths['/callbacks/sipcall/cdr']?.post?.security).toEqual([]);
    expect(doc.paths['/campaigns']?.get?.security).toBeUndefined();
  });

  it('documents the routes with the schemas that validate them', async () => {
    const full = (await SwaggerParser.dereference(structuredClone(doc) as never)) as OpenAPIV3.Document;
    const paths = Object.keys(doc.paths);
    for (const p of ['/campaigns', '/campaigns/{id}', '/campaigns/{id}/pause', '/campaigns/{id}/resume', '/campaigns/{id}/cancel', '/campaigns/{id}/pace', '/campaigns/{id}/results', '/campaigns/{id}/attempts', '/campaigns/{id}/rejects', '/campaigns/{id}/contacts', '/schedules', '/schedules/{name}/runs', '/schedules/{name}/run', '/metrics']) {
      expect(paths, p).toContain(p);
    }
    for (const hidden of paths.filter((p) => p.startsWith('/docs') || p.startsWith('/admin/queues'))) expect.fail(`${hidden} is listed`);
    // The JSON definition: the fields of a jobs/ file, contacts a URL or rows; and the multipart form.
    const create = full.paths['/campaigns']!.post!;
    const body = (create.requestBody as OpenAPIV3.RequestBodyObject).content;
    expect(Object.keys(body).sort()).toEqual(['application/json', 'multipart/form-data']);
    const json = JSON.stringify(body['application/json']!.schema);
    for (const field of ['action', 'params', 'cps', 'maxConcurrent', 'window', 'ingest', 'webhook', 'contacts']) expect(json).toContain(`"${field}"`);
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '413', '415', '422', '503']));
    // Paging parameters of the list.
    const list = doc.paths['/campaigns']!.get!.parameters as OpenAPIV3.ParameterObject[];
    expect(list.map((p) => p.name).sort()).toEqual(['limit', 'offset', 'state']);
    // Every error code is listed in the description.
    for (const code of Object.keys(API_ERROR_CODES)) expect(doc.info.description).toContain(code);
  });

  it('serves a reference page at /docs, without the token, under the security headers', async () => {
    const page = await fetch(`${h.serverUrl}/docs/`, { redirect: 'follow' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    // Every script and style it loads is the server's own.
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const a of assets) {
      expect(a, a).not.toMatch(/^(https?:)?\/\//);
      const res = await fetch(new URL(a, `${h.serverUrl}/docs/`));
      await res.arrayBuffer();
      expect(res.status, a).toBe(200);
    }
  });
});
