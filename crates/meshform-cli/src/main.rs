//! The `meshform` binary.

fn main() -> std::process::ExitCode {
    meshform_cli::run()
}
