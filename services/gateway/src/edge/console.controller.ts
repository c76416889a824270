import { Controller, Get, Header, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import * as fs from 'fs';
import * as path from 'path';
import { ApiError } from './http/api-error';

/** scripts/build.sh bundles console/ into dist/console; this file runs from dist/services/gateway/src/edge. */
export const CONSOLE_ASSETS_DIR = path.resolve(__dirname, '../../../../console');
const ASSETS: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' };
// Everything the page loads comes from this origin; the credential lives in sessionStorage, so no inline script may run.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pushledger console</title>
<link rel="stylesheet" href="/console/assets/app.css">
<script defer src="/console/assets/app.js"></script>
</head>
<body><div id="app"><p>Loading the console…</p><noscript>The console needs JavaScript.</noscript></div></body>
</html>
`;

/** The web console: a static page and its bundle, on the API's origin (it calls the API with the signed-in key). */
@ApiExcludeController()
@Controller('console')
export class ConsoleController {
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', CSP)
  @Header('Cache-Control', 'no-cache')
  @Header('Referrer-Policy', 'no-referrer')
  @Header('X-Content-Type-Options', 'nosniff')
  page(): string {
    return PAGE;
  }

  @Get('assets/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    const type = Object.prototype.hasOwnProperty.call(ASSETS, file) ? ASSETS[file] : undefined;
    const full = path.join(CONSOLE_ASSETS_DIR, file);
    if (!type || !fs.existsSync(full)) throw ApiError.notFound('asset');
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.sendFile(full);
  }
}
