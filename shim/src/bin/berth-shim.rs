//! berth-shim: the per-container monitor. berth starts it; it detaches and
//! supervises one container (see berth::monitor).
#![forbid(unsafe_code)]

use berth::monitor::shim::{main as monitor, ShimArgs};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match ShimArgs::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("berth-shim: {e}");
            std::process::exit(2);
        }
    };
    std::process::exit(monitor(args));
}
