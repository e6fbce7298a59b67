// Loading and error states for a query, worded for operators.
import type { ReactNode } from 'react';

import { ApiError } from '@/lib/api-client';

export function ErrorMessage({ error, what }: { error: unknown; what: string }) {
  let text = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiError) {
    text = error.status === 404 ? `${what} is not available on this API (404): ${error.detail}` : error.message;
  }
  return (
    <div className="notice notice--error" role="alert">
      <strong>Could not load {what}.</strong> {text}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty muted">{children}</p>;
}
