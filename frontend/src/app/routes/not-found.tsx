// Any path the UI does not know.
import { Link } from 'react-router';

import { PageHeader } from '@/components/page-header';

export function NotFound() {
  return (
    <>
      <PageHeader title="Not found" description="There is no view at this address." />
      <p>
        <Link to="/">Back to the dashboard</Link>
      </p>
    </>
  );
}
