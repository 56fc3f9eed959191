import { type FormEvent, useState } from "react";
import { sshKeyErrorText } from "@/app/lib/ssh-key-words";
import { type ProfileResponse, useSaveProfile } from "./use-profile";

export function SshKeys({ data }: { data: ProfileResponse }) {
  const save = useSaveProfile();
  const [key, setKey] = useState("");
  const keys = data.profile.sshKeys;
  const add = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({ ...data.profile, sshKeys: [...keys, key.trim()] }, { onSuccess: () => setKey("") });
  };
  return (
    <section className="card section" aria-labelledby="ssh-title">
      <div className="section-head">
        <h2 id="ssh-title" className="section-title">
          SSH public keys
        </h2>
      </div>
      <p className="muted">Added to the machines of your runs, so you can log in to debug them.</p>
      {keys.length === 0 ? (
        <p className="hint">No keys yet.</p>
      ) : (
        <table className="table">
          <tbody>
            {keys.map((k, i) => (
              <tr key={k}>
                <td className="mono small">
                  {k.split(" ")[0]} …{k.split(" ")[1]?.slice(-12)} {k.split(" ").slice(2).join(" ")}
                </td>
                <td className="nowrap">
                  <button
                    type="button"
                    className="button danger"
                    disabled={save.isPending}
                    onClick={() => save.mutate({ ...data.profile, sshKeys: keys.filter((_, j) => j !== i) })}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form onSubmit={add}>
        <label className="field">
          <span>Add a key</span>
          <textarea
            rows={3}
            className="mono small"
            placeholder="ssh-ed25519 AAAA… you@laptop"
            required
            value={key}
            aria-invalid={save.isError}
            onChange={(e) => setKey(e.target.value)}
          />
        </label>
        {save.isError && (
          <p className="field-error" role="alert">
            {sshKeyErrorText(save.error, keys.length)}
          </p>
        )}
        <button type="submit" className="button" disabled={save.isPending || !key.trim()}>
          Add key
        </button>
      </form>
    </section>
  );
}
