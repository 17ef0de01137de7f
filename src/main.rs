//! The flightdeck binary: everything lives in the library.

fn main() {
    match flightdeck::cli::main() {
        Ok(code) => std::process::exit(code),
        // Every error is one plain line with its causes, and an exit code by kind: 2 usage
        // or config, 3 refused, 1 failed. Bugs panic, and a panic writes a crash file.
        Err(e) => {
            // A closed terminal must not turn a failure into a panic.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "flightdeck: {}",
                flightdeck::workspace::one_line(&e)
            );
            std::process::exit(flightdeck::workspace::exit_code(&e));
        }
    }
}
