"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useLive } from "../providers";
import { api, fetchSession, type SessionInfo, setCsrfToken } from "./api";

export function useSession() {
  return useQuery({ queryKey: ["session"], queryFn: fetchSession, staleTime: Number.POSITIVE_INFINITY, retry: 1 });
}

export function useSignOut() {
  const qc = useQueryClient();
  const live = useLive();
  const router = useRouter();
  return useMutation({
    mutationFn: () => api<{ ok: true }>("DELETE", "/api/auth/session"),
    onSettled: () => {
      live.close();
      setCsrfToken(null);
      qc.clear();
      qc.setQueryData<SessionInfo | null>(["session"], null);
      router.replace("/login");
    },
  });
}
