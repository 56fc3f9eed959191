"use client";

import { AuthGate } from "../components/shell";
import { errorText } from "../lib/api";
import { ChangePassword } from "./_components/change-password";
import { General } from "./_components/general";
import { SshKeys } from "./_components/ssh-keys";
import { Tokens } from "./_components/tokens";
import { useProfile } from "./_components/use-profile";
import { Webhooks } from "./_components/webhooks";

function ProfileSections() {
  const profile = useProfile();
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Profile</h1>
          <p className="muted">Your defaults for new runs, your SSH keys, API tokens and password.</p>
        </div>
      </div>
      {profile.isPending && <p className="page-loading">Loading…</p>}
      {profile.isError && <p className="form-error banner">{errorText(profile.error)}</p>}
      {profile.data && (
        <>
          <General data={profile.data} />
          <SshKeys data={profile.data} />
        </>
      )}
      <Tokens />
      <Webhooks />
      <ChangePassword />
    </>
  );
}

export function ProfileView() {
  return (
    <AuthGate>
      <ProfileSections />
    </AuthGate>
  );
}
