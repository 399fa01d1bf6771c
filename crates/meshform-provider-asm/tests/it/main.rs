//! The asm provider against the sandbox's ASM emulator, through the engine exactly as the CLI drives
//! it: the runbook's meshes with a shared root, discovery-only attachments, networks and injection.

mod cycle;
mod harness;
