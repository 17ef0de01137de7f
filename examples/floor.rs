//! The floor of the performance report: a minimal ratatui list that draws only on input,
//! measured beside flightdeck by `scripts/perf.py`.

use std::io;

use crossterm::event::{self, Event, KeyCode, KeyEventKind};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::widgets::{Block, List, ListState};

fn main() -> io::Result<()> {
    enable_raw_mode()?;
    crossterm::execute!(io::stdout(), EnterAlternateScreen)?;
    let mut term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let items: Vec<String> = (1..=100).map(|i| format!("item {i}")).collect();
    let mut state = ListState::default().with_selected(Some(0));
    loop {
        term.draw(|f| {
            let list = List::new(items.clone())
                .block(Block::bordered().title("Floor"))
                .highlight_symbol("> ");
            f.render_stateful_widget(list, f.area(), &mut state);
        })?;
        if let Event::Key(k) = event::read()?
            && k.kind == KeyEventKind::Press
        {
            match k.code {
                KeyCode::Char('q') => break,
                KeyCode::Down | KeyCode::Char('j') => state.select_next(),
                KeyCode::Up | KeyCode::Char('k') => state.select_previous(),
                _ => {}
            }
        }
    }
    disable_raw_mode()?;
    crossterm::execute!(io::stdout(), LeaveAlternateScreen)
}
