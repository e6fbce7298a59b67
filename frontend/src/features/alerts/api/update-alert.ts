// POST /api/v1/alerts/{id}/ack and /clear with the operator's bearer token.
import { useMutation, useQueryClient } from '@tanstack/react-query';

import { api, bearer, unwrap } from '@/lib/api-client';
import { useSettings } from '@/lib/settings-store';
import type { Alert } from '@/lib/api/types';

export type AlertAction = 'ack' | 'clear';

export function updateAlert(id: Alert['id'], action: AlertAction, token: string): Promise<Alert> {
  const init = { params: { path: { alert_id: id } }, headers: bearer(token) };
  return unwrap(
    action === 'ack'
      ? api.POST('/api/v1/alerts/{alert_id}/ack', init)
      : api.POST('/api/v1/alerts/{alert_id}/clear', init),
  );
}

export function useUpdateAlert() {
  const { token } = useSettings();
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, action }: { id: Alert['id']; action: AlertAction }) => updateAlert(id, action, token),
    onSettled: () => client.invalidateQueries({ queryKey: ['alerts'] }),
  });
}
