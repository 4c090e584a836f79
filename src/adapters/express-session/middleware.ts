/** The read-through import as Express middleware, placed before `unpinned(sessions)`. */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { LegacyImport } from './legacy-import.js';

/**
 * @example
 * app.use(importExpressSessions(importer)); // first
 * app.use(unpinned(sessions));               // then req.session is the imported session
 */
export function importExpressSessions(importer: LegacyImport): RequestHandler {
  return function importLegacySession(req: Request, res: Response, next: NextFunction): void {
    importer.fromCookie(req.headers.cookie, req.secure).then((result) => {
      if (result) {
        // The session middleware reads the new token from the header; the browser gets it with this response.
        req.headers.cookie = result.cookieHeader;
        for (const setCookie of result.setCookies) res.append('Set-Cookie', setCookie);
        // The new session cookie must not reach a shared cache (see shared/no-store.ts).
        res.setHeader('cache-control', 'no-store');
      }
      next();
    }, next);
  };
}
