// POST /api/alerts/{id}/ack and /clear with the operator's bearer token.
import { useMutation, useQueryClient } from '@tanstack/react-query';

import { apiFetch } from '@/lib/api-client';
import { useSettings } from '@/lib/settings-store';
import type { Alert } from '@/types/api';

export type AlertAction = 'ack' | 'clear';

export function updateAlert(id: Alert['id'], action: AlertAction, token: string): Promise<Alert> {
  return apiFetch<Alert>(`/api/alerts/${encodeURIComponent(String(id))}/${action}`, { method: 'POST', token });
}

export function useUpdateAlert() {
  const { token } = useSettings();
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, action }: { id: Alert['id']; action: AlertAction }) => updateAlert(id, action, token),
    onSettled: () => client.invalidateQueries({ queryKey: ['alerts'] }),
  });
}
