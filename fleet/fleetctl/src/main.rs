//! fleetctl's entry point: build a runtime, run the command line, exit with its code.

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let code = runtime.block_on(fleetctl::run(std::env::args_os().collect()));
    // Leave in-flight connection tasks behind rather than wait for them.
    runtime.shutdown_background();
    std::process::exit(code)
}
