//! Terminal safety: raw mode and the alternate screen are always undone — on quit, on a
//! signal, on a panic — and Ctrl-Z suspends cleanly.

use std::io::{self, Stdout, Write};
use std::path::PathBuf;

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal type the cockpit draws on.
pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Puts the terminal in raw mode on the alternate screen and returns it.
pub fn init(mouse: bool) -> io::Result<Tui> {
    enter(mouse)?;
    Terminal::new(CrosstermBackend::new(io::stdout()))
}

/// Raw mode, alternate screen, bracketed paste, hidden cursor (and mouse capture if asked).
fn enter(mouse: bool) -> io::Result<()> {
    enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(
        out,
        EnterAlternateScreen,
        EnableBracketedPaste,
        cursor::Hide
    )?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    Ok(())
}

/// Undoes everything `init` did. Safe to call twice and when the terminal is gone.
pub fn restore() {
    let mut out = io::stdout();
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Restores the terminal and lets go of it. When the terminal is gone (a dropped SSH
/// connection: writes fail with EIO), it is forgotten rather than dropped, because ratatui's
/// drop would report its failure to show the cursor on the same dead terminal, and printing
/// there panics.
pub fn release(mut terminal: Tui) {
    restore();
    if terminal.show_cursor().is_err() {
        std::mem::forget(terminal);
    }
}

/// Restores the terminal, stops the process (as Ctrl-Z would in a shell), and on `fg`
/// takes the terminal back and clears it for a full redraw.
pub fn suspend(terminal: &mut Tui, mouse: bool) -> io::Result<()> {
    restore();
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGTSTP).map_err(io::Error::other)?;
    // Execution resumes here after SIGCONT. Keep the same `Terminal`, and do not use
    // `Terminal::clear`: both ask the terminal for the cursor position, whose answer the
    // input task would read away. `resize` clears and forces a full redraw without asking.
    enter(mouse)?;
    let size = terminal.size()?;
    terminal.resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))
}

/// Installs a panic hook that restores the terminal first, writes a crash file into
/// `crash_dir`, lets the previous hook print, and exits: a half-dead UI is worse than none.
pub fn install_panic_hook(crash_dir: PathBuf) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        let path = crash_dir.join(format!(
            "crash-{}.txt",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        if let Ok(mut f) = crate::paths::append_private(&path) {
            let _ = writeln!(
                f,
                "flightdeck {} panicked: {info}\n{}",
                env!("CARGO_PKG_VERSION"),
                std::backtrace::Backtrace::force_capture()
            );
            let _ = writeln!(io::stderr(), "crash report written to {}", path.display());
        }
        previous(info);
        std::process::exit(101);
    }));
}
