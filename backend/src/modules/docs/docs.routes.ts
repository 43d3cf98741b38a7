import { dirname } from 'node:path';
import express from 'express';
import { defineRoute, raw, RouteDefinition } from '../../http/route';
import { AppDeps } from '../../app-deps';
import { buildOpenApiDocument } from './openapi';
import { callerCustomFields, withCustomFields } from './tenant-document';

export const OPENAPI_PATH = '/openapi.json';

/**
 * GET /api/v1/openapi.json: the document of `routes` and of itself, built once when the app is built. With
 * a tenant's credentials, the same document with that organization's custom fields in its record bodies.
 */
export function docsRoutes(routes: RouteDefinition[], deps: AppDeps): RouteDefinition[] {
  const openApiRoute = defineRoute({
    method: 'get',
    path: OPENAPI_PATH,
    permission: 'public',
    summary: "This OpenAPI 3 document, generated from the route declarations (with a tenant's token, its custom fields too)",
    tags: ['Docs'],
    response: { status: 200, description: 'The OpenAPI document', raw: true, errors: [401] },
    handler: async (input) => {
      if (input.headers.authorization === undefined && input.headers['x-api-key'] === undefined) return raw(200, document);
      const fields = await callerCustomFields(deps, input);
      return raw(200, fields.length ? withCustomFields(document, fields) : document);
    },
  });
  const document = buildOpenApiDocument([...routes, openApiRoute]);
  return [openApiRoute];
}

/** The files of swagger-ui-dist that the page loads; nothing else of the package is served. */
const ASSETS = new Set(['swagger-ui.css', 'index.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'favicon-32x32.png', 'favicon-16x16.png']);

/**
 * The global policy is `default-src 'none'` (an API answers JSON only). Swagger UI is a page, so /docs
 * and its assets get their own: scripts and styles from this origin only (no inline script: the page's
 * initializer is a file too), inline styles because Swagger UI's React components set `style`
 * attributes, images from this origin and `data:` (its icons are inline SVG data URLs), and requests
 * ("Try it out", the document) to this origin only. It still may not be framed, nor post forms anywhere.
 */
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>CRM API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/docs-init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({
  url: '/api/v1${OPENAPI_PATH}',
  dom_id: '#swagger-ui',
  deepLinking: true,
  // 130-odd operations: tags start collapsed and open on a click (or a deep link), which keeps the page fast.
  docExpansion: 'none',
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: 'StandaloneLayout',
});
`;

/** GET /docs: Swagger UI, served from node_modules (no CDN), reading /api/v1/openapi.json. */
export function docsUi(): express.Router {
  const router = express.Router({ strict: false });
  const assets = dirname(require.resolve('swagger-ui-dist/package.json'));
  router.use('/docs', (_req, res, next) => {
    res.set('Content-Security-Policy', DOCS_CSP);
    next();
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(PAGE);
  });
  router.get('/docs/docs-init.js', (_req, res) => {
    res.type('js').send(INIT);
  });
  router.get('/docs/:file', (req, res, next) => {
    if (!ASSETS.has(req.params.file)) return next();
    res.sendFile(req.params.file, { root: assets, maxAge: '1d' });
  });
  return router;
}
