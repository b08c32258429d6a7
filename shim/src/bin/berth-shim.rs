//! berth-shim: the per-container monitor (not implemented yet).
#![forbid(unsafe_code)]

fn main() {
    eprintln!("berth-shim: not implemented yet");
    std::process::exit(1);
}
