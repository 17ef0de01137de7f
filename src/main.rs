//! The flightdeck binary: everything lives in the library.

fn main() -> color_eyre::Result<()> {
    let code = flightdeck::cli::main()?;
    std::process::exit(code);
}
