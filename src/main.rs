//! The flightdeck binary: everything lives in the library.

fn main() -> color_eyre::Result<()> {
    match flightdeck::cli::main() {
        Ok(code) => std::process::exit(code),
        // Mistakes in config or usage are one plain line; anything else is a full report.
        Err(e) if flightdeck::workspace::is_user_error(&e) => {
            eprintln!("flightdeck: {e}");
            std::process::exit(2);
        }
        Err(e) => Err(e),
    }
}
