import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "@/app/lib/api";
import type { KeepRunning } from "@/protocol/run";

interface Profile {
  sshKeys: string[];
  keepRunning: KeepRunning;
  defaultCloud: string;
  runTimeoutMinutes: number;
  /** absent in a profile saved before it existed: the server's 60 s */
  lostAfterSeconds?: number;
}
export interface ProfileResponse {
  profile: Profile;
  clouds: string[];
}

/** The signed-in user's profile (defaults for new runs, SSH keys) and the clouds a run may use. */
export function useProfile() {
  return useQuery({ queryKey: ["profile"], queryFn: () => api<ProfileResponse>("GET", "/api/profile") });
}

export function useSaveProfile() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (p: Profile) => api<ProfileResponse>("PUT", "/api/profile", p),
    onSuccess: (data) => qc.setQueryData(["profile"], data),
  });
}
