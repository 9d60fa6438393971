/**
 * What a route says about itself to the server-wide hooks, in its `config`:
 * whether it needs the API token, whether it needs Redis, and whether its
 * body may be large (an upload) or must arrive at once.
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** `public`: no API token (callbacks have their own key; health; the dashboard page, which holds no data). */
    access?: 'public';
    /** `false`: answers without Redis (health, the page); any other route is answered 503 while Redis is unavailable. */
    redis?: false;
    /** `true`: the body may be large and slow (an upload): only its rate is watched, not its total time. */
    largeBody?: true;
  }
}

export {};
