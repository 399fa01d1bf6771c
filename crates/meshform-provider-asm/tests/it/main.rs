//! The asm provider against the sandbox's ASM emulator, through the engine exactly as the CLI drives
//! it: the runbook's meshes with a shared root, discovery-only attachments, networks and injection, and the
//! mesh's kubeconfig configuring a kubernetes provider for its Istio resources (`kubeconfig`), and every credential mode
//! against the sandbox's STS and metadata emulators (`credentials`).

mod credentials;
mod cycle;
mod harness;
mod in_flight;
mod kubeconfig;
mod upgrade;
