"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useEffect, useState } from "react";
import { ApiFailure, type SessionInfo, setCsrfToken } from "../lib/api";
import { useSession } from "../lib/session";

function safeNext(next: string | null): string {
  // only paths of this site, never another origin
  return next?.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : "/";
}

function LoginForm() {
  const router = useRouter();
  const params = useSearchParams();
  const qc = useQueryClient();
  const session = useSession();
  const next = safeNext(params.get("next"));
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  useEffect(() => {
    if (session.data) router.replace(next);
  }, [session.data, next, router]);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(null);
    try {
      const res = await fetch("/api/auth/session", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
        credentials: "same-origin",
      });
      const body = (await res.json().catch(() => ({}))) as Partial<SessionInfo> & { error?: { message: string } };
      if (!res.ok) {
        throw new ApiFailure(
          res.status,
          "",
          res.status === 401
            ? "That username and password do not match. Try again."
            : (body.error?.message ?? `Sign-in failed (${res.status}).`),
        );
      }
      setCsrfToken(body.csrfToken ?? null);
      qc.setQueryData(["session"], body as SessionInfo);
      router.replace(next);
    } catch (err) {
      setError(
        err instanceof ApiFailure
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
