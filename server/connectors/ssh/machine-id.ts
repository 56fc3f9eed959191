/** Instance ids: `ssh-[<address>]:<port>-<pid>`; ids made before the port was part of them are `ssh-<address>-<pid>`. */
export function sshMachineId(h: { address: string; port: number }, pid: number): string {
  return `ssh-[${h.address}]:${h.port}-${pid}`;
}

export function parseSshMachineId(id: string): { address: string; port?: number; pid: number } | null {
  const m = /^ssh-\[(.+)\]:(\d+)-(\d+)$/.exec(id);
  if (m) return { address: m[1], port: Number(m[2]), pid: Number(m[3]) };
  const old = /^ssh-(.+)-(\d+)$/.exec(id);
  return old ? { address: old[1], pid: Number(old[2]) } : null;
}
