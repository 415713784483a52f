import {
  type DependencyList,
  type Dispatch,
  type SetStateAction,
  useCallback,
  useEffect,
  useRef,
  useState,
} from 'react';

import { ApiError } from '../api';

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  reload: () => void;
  /** For changes the page made itself (a created item), without asking again. */
  setData: Dispatch<SetStateAction<T | null>>;
}

/**
 * Runs `load` on mount and whenever `deps` change, keeping only the answer of the latest
 * call (a slow earlier answer must not overwrite a newer one).
 */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [generation, setGeneration] = useState(0);
  // The latest `load`, read by the effect below, which runs after this one.
  const loadRef = useRef(load);
  useEffect(() => {
    loadRef.current = load;
  });

  useEffect(() => {
    let current = true;
    loadRef.current().then(
      (value) => {
        if (!current) return;
        setData(value);
        setError(null);
      },
      (caught: unknown) => {
        if (!current) return;
        setError(caught instanceof ApiError ? caught : new ApiError(0, 'unknown', String(caught)));
      },
    );
    return () => {
      current = false;
    };
    // `deps` stands for what `load` reads, as with useEffect itself.
  }, [...deps, generation]);

  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  return { data, error, reload, setData };
}
