/**
 * The one error shape of the API: every 4xx/5xx answers `{ error, message, details }`, whether it
 * came from validation, auth, a missing route, rate limiting or a failed query.
 */
import { z } from 'zod';

export const errorSchema = z.object({
  /** Machine-readable kind, e.g. `bad_request`, `not_found`, `unauthorized`. */
  error: z.string(),
  /** One sentence a person can act on. */
  message: z.string(),
  /** Structured extras (validation issues, dependency states); `null` when there are none. */
  details: z.unknown().nullable(),
});
export type ErrorBody = z.infer<typeof errorSchema>;

const KINDS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  426: 'upgrade_required',
  429: 'too_many_requests',
  500: 'internal_error',
  503: 'unavailable',
};

export function errorKind(status: number): string {
  return KINDS[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
}

/** Thrown by handlers for an expected failure; the error handler turns it into the error shape. */
export class ApiError extends Error {
  readonly statusCode: number;
  readonly details: unknown;
  constructor(statusCode: number, message: string, details: unknown = null) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.details = details;
  }
}

export function errorBody(status: number, message: string, details: unknown = null): ErrorBody {
  return { error: errorKind(status), message, details };
}

/** Standard error responses for route schemas, so OpenAPI documents them. */
export const errorResponses = {
  400: errorSchema,
  404: errorSchema,
  429: errorSchema,
  500: errorSchema,
  /** A query stopped by the API's per-query limits, or too many heavy requests at once (app.ts `ApiLimits`). */
  503: errorSchema,
} as const;

/**
 * {@link errorResponses} plus the token check's answers (app.ts `onRequest`): routes that change data
 * use these so the OpenAPI document lists the 401 and 403 every one of them can give.
 */
export const mutationErrorResponses = {
  ...errorResponses,
  401: errorSchema,
  403: errorSchema,
} as const;
