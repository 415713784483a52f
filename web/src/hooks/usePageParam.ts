import { useSearchParams } from 'react-router';

/** The list page in the URL (`?page=`), so reloading or going back keeps the place. */
export function usePageParam(): [number, (page: number) => void] {
  const [params, setParams] = useSearchParams();
  const parsed = Number.parseInt(params.get('page') ?? '1', 10);
  const page = Number.isFinite(parsed) && parsed > 0 ? parsed : 1;
  const setPage = (next: number) => setParams(next > 1 ? { page: String(next) } : {});
  return [page, setPage];
}
