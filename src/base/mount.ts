/** A mount as the OCI runtime spec and containerd describe it: the shared currency between snapshotters and runtimes. */
export interface Mount {
  type: string; // 'overlay' | 'bind' | 'btrfs' ...
  source: string;
  options: string[];
}
