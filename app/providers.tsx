"use client";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext, useState } from "react";
import { ApiFailure } from "./lib/api";
import { Live } from "./lib/live";

const LiveContext = createContext<Live | null>(null);

export function useLive(): Live {
  const live = useContext(LiveContext);
  if (!live) throw new Error("useLive outside <Providers>");
  return live;
}

export function Providers({ children }: { children: ReactNode }) {
  const [state] = useState(() => {
    const qc = new QueryClient({
      defaultOptions: {
        queries: {
          // live data arrives over the socket; nothing is refetched on a timer or on focus
          refetchOnWindowFocus: false,
          refetchOnReconnect: false,
          staleTime: 30_000,
          // a refusal will be refused again, and a read that already waited its whole bound is not tried twice more
          retry: (count, err) =>
            !(err instanceof ApiFailure && ((err.status > 0 && err.status < 500) || err.code === "TIMEOUT")) &&
            count < 2,
          // offline, a request still fails (and the page says so, with Retry) instead of waiting, "Loading…", forever
          networkMode: "always",
        },
        mutations: { networkMode: "always" },
      },
    });
    return { qc, live: new Live(qc) };
  });
  return (
    <QueryClientProvider client={state.qc}>
      <LiveContext.Provider value={state.live}>{children}</LiveContext.Provider>
    </QueryClientProvider>
  );
}
