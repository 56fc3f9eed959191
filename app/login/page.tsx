"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useEffect, useState } from "react";
import { API } from "@/protocol/catalog";
import { ApiFailure, call, type SessionInfo, setCsrfToken } from "../lib/api";
import { takeSessionExpiredModule } from "../lib/kept-drafts";
import { SIGNED_OUT_REASON } from "../lib/live";
import { safeNext } from "../lib/safe-next";
import { useSession } from "../lib/session";

function LoginForm() {
  const router = useRouter();
  const params = useSearchParams();
  const qc = useQueryClient();
  const session = useSession();
  // rendered on the server too (no window there); the redirect itself only ever runs in the browser
  const next = safeNext(
    params.get("next"),
    typeof window === "undefined" ? "http://server.invalid" : window.location.origin,
  );
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const [ended, setEnded] = useState<string | null>(null);
  const [expiredModule, setExpiredModule] = useState<string | null>(null);

  useEffect(() => {
    if (session.data) router.replace(next);
  }, [session.data, next, router]);

  useEffect(() => {
    // why the server signed this browser out (token revoked, password reset, account disabled…), said once
    try {
      setEnded(sessionStorage.getItem(SIGNED_OUT_REASON));
      sessionStorage.removeItem(SIGNED_OUT_REASON);
    } catch {}
    setExpiredModule(takeSessionExpiredModule());
  }, []);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(null);
    try {
      const session = await call(API.createSession, { body: { username, password } });
      setCsrfToken(session.csrfToken);
      qc.setQueryData<SessionInfo>(["session"], session);
      router.replace(next);
    } catch (err) {
      setError(
        err instanceof ApiFailure && err.status === 401
          ? "That username and password do not match. Try again."
          : err instanceof Error
            ? err.message
            : "Cannot reach the SlipStream server. Check that it is running, then try again.",
      );
      setPending(false);
    }
  };

  return (
    <div className="login-wrap">
      <form className="login-card card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to SlipStream</h1>
        <p className="muted">Deploy, test and watch multi-machine systems with your team.</p>
        {expiredModule && (
          <p className="form-error" role="status" data-testid="session-expired">
            Your session expired; your unsaved changes to {expiredModule} are kept. Sign in to get back to them.
          </p>
        )}
        {ended && (
          <p className="form-error" role="status">
            You were signed out: {ended}.
          </p>
        )}
        <label className="field">
          <span>Username</span>
          <input
            name="username"
            autoComplete="username"
            required
            // biome-ignore lint/a11y/noAutofocus: the only thing to do on this page
            autoFocus
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button primary wide" disabled={pending}>
          {pending ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}

export default function LoginPage() {
  return (
    <Suspense fallback={null}>
      <LoginForm />
    </Suspense>
  );
}
