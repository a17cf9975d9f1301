import type { Command } from 'commander';

// Placeholder until the 'doctor' command lands; see the issue that owns it.
export function register(_program: Command): void {}
