//! `berth-image`: not implemented yet (see the open issues); exits non-zero so no script mistakes it for a working tool.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("berth-image: not implemented yet");
    std::process::exit(1);
}
