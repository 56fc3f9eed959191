import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { call } from "@/app/lib/api";
import { API } from "@/protocol/catalog";
import type { EndpointInput, EndpointOutput } from "@/protocol/endpoint";

export type ProfileResponse = EndpointOutput<typeof API.profile>;

/** The signed-in user's profile (defaults for new runs, SSH keys) and the clouds a run may use. */
export function useProfile() {
  return useQuery({ queryKey: ["profile"], queryFn: () => call(API.profile) });
}

export function useSaveProfile() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (p: EndpointInput<typeof API.putProfile>["body"]) => call(API.putProfile, { body: p }),
    onSuccess: (data) => {
      qc.setQueryData(["profile"], data);
      // the header and the team list show the display name
      qc.invalidateQueries({ queryKey: ["session"] });
      qc.invalidateQueries({ queryKey: ["users"] });
    },
  });
}
