//! The ASM OpenAPI emulator.
