"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { API } from "@/protocol/catalog";
import { useLive } from "../providers";
import { call, fetchSession, type SessionInfo, setCsrfToken } from "./api";

export function useSession() {
  return useQuery({ queryKey: ["session"], queryFn: fetchSession, staleTime: Number.POSITIVE_INFINITY, retry: 1 });
}

export function useSignOut() {
  const qc = useQueryClient();
  const live = useLive();
  const router = useRouter();
  return useMutation({
    // the live connection goes first: signing out makes the server close it, which would read as a lost session
    onMutate: () => live.close(),
    mutationFn: () => call(API.endSession),
    onSettled: () => {
      setCsrfToken(null);
      qc.clear();
      qc.setQueryData<SessionInfo | null>(["session"], null);
      router.replace("/login");
    },
  });
}
