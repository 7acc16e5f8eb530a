import { useCallback, useEffect, useRef, useState } from 'react';
import type { OperationName } from '@roster/contracts';
import { call, type CallOptions, type ResponseOf } from '../api/client';

type CallResult<N extends OperationName> = ResponseOf<N>;

export interface ApiState<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Loads one operation and reloads when its inputs change; `null` params skip the call. */
export function useApi<N extends OperationName>(
  name: N,
  options: Pick<CallOptions<N>, 'params' | 'query'> | null = {},
): ApiState<CallResult<N>> {
  const key = options === null ? null : JSON.stringify([name, options]);
  const [state, setState] = useState<{
    data: CallResult<N> | undefined;
    error: string | undefined;
    loading: boolean;
  }>({
    data: undefined,
    error: undefined,
    loading: key !== null,
  });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    if (key === null || options === null) return;
    const id = ++latest.current;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    call(name, options).then(
      (data) => {
        if (id === latest.current) setState({ data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (id === latest.current)
          setState({
            data: undefined,
            error: error instanceof Error ? error.message : String(error),
            loading: false,
          });
      },
    );
    // Depends on `key` (the options, serialised) rather than the options object, which is new on every render.
  }, [key, tick]);
  const reload = useCallback(() => {
    setTick((t) => t + 1);
  }, []);
  return { ...state, reload };
}

/** Runs a write, tracking its pending state and error for the form that started it. */
export function useAction() {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const run = useCallback(async <T>(action: () => Promise<T>): Promise<T | undefined> => {
    setPending(true);
    setError(undefined);
    try {
      return await action();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
      return undefined;
    } finally {
      setPending(false);
    }
  }, []);
  return { pending, error, setError, run };
}
