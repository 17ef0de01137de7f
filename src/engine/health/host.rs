//! This machine's host metrics (CPU, memory, disk, load) from /proc and statvfs on Linux.

use std::path::Path;

/// CPU jiffies since boot: (busy, total) from the `cpu ` line of /proc/stat.
///
/// busy = total - idle - iowait.
pub fn cpu_ticks() -> Result<(u64, u64), String> {
    let text = read("/proc/stat")?;
    parse_stat(&text).ok_or_else(|| "/proc/stat: no readable `cpu ` line".to_string())
}

/// Busy percent between two `cpu_ticks` readings; None when total did not advance.
pub fn cpu_percent(before: (u64, u64), after: (u64, u64)) -> Option<f64> {
    let total = after.1.checked_sub(before.1).filter(|&d| d > 0)?;
    let busy = after.0.saturating_sub(before.0).min(total);
    Some(busy as f64 / total as f64 * 100.0)
}

/// Memory used percent: (MemTotal - MemAvailable) / MemTotal * 100 from /proc/meminfo.
pub fn memory_percent() -> Result<f64, String> {
    let text = read("/proc/meminfo")?;
    parse_meminfo(&text).ok_or_else(|| "/proc/meminfo: no usable MemTotal/MemAvailable".to_string())
}

/// Disk used percent of the filesystem holding `path`, computed like df does.
///
/// `(blocks - free) / (blocks - free + available) * 100`, so space reserved for root counts
/// neither as used nor as available.
pub fn disk_percent(path: &Path) -> Result<f64, String> {
    let st =
        nix::sys::statvfs::statvfs(path).map_err(|e| format!("statvfs {}: {e}", path.display()))?;
    // Block counts are platform integers (u32 or u64); f64 is exact enough for a percentage.
    used_percent(
        st.blocks() as f64,
        st.blocks_free() as f64,
        st.blocks_available() as f64,
    )
    .ok_or_else(|| {
        format!(
            "statvfs {}: the filesystem reports no blocks",
            path.display()
        )
    })
}

/// The 1-minute load average from /proc/loadavg.
pub fn load1() -> Result<f64, String> {
    let text = read("/proc/loadavg")?;
    parse_loadavg(&text).ok_or_else(|| "/proc/loadavg: no load average".to_string())
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

/// (busy, total) from the aggregate `cpu ` line: user nice system idle iowait irq softirq steal.
///
/// guest and guest_nice are left out because the kernel already counts them in user and nice.
fn parse_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let (mut total, mut idle, mut fields) = (0u64, 0u64, 0usize);
    for (i, field) in line.split_whitespace().skip(1).take(8).enumerate() {
        let v: u64 = field.parse().ok()?;
        total = total.saturating_add(v);
        if i == 3 || i == 4 {
            idle = idle.saturating_add(v);
        }
        fields += 1;
    }
    (fields >= 4).then_some((total.saturating_sub(idle), total))
}

/// Used percent from /proc/meminfo text; without MemAvailable (kernels before 3.14) it falls
/// back to MemFree + Buffers + Cached.
fn parse_meminfo(text: &str) -> Option<f64> {
    let (mut total, mut available) = (None, None);
    let (mut free, mut buffers, mut cached) = (None, 0u64, 0u64);
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(kb) = value.parse::<u64>() else {
            continue;
        };
        match key {
            "MemTotal:" => total = Some(kb),
            "MemAvailable:" => available = Some(kb),
            "MemFree:" => free = Some(kb),
            "Buffers:" => buffers = kb,
            "Cached:" => cached = kb,
            _ => {}
        }
    }
    let total = total.filter(|&t| t > 0)?;
    let available = match available {
        Some(a) => a,
        None => free?.saturating_add(buffers).saturating_add(cached),
    };
    let used = total.saturating_sub(available);
    Some(used as f64 / total as f64 * 100.0)
}

/// The first field of /proc/loadavg.
fn parse_loadavg(text: &str) -> Option<f64> {
    let load: f64 = text.split_whitespace().next()?.parse().ok()?;
    (load.is_finite() && load >= 0.0).then_some(load)
}

/// df's used percent from total, free and available block counts.
fn used_percent(blocks: f64, free: f64, available: f64) -> Option<f64> {
    let used = (blocks - free).max(0.0);
    let denominator = used + available;
    (denominator > 0.0).then_some((used / denominator * 100.0).clamp(0.0, 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
intr 1462898 0 0 0
ctxt 8794839
btime 1700000000
";

    #[test]
    fn stat_line() {
        let total: u64 = 10132153 + 290696 + 3084719 + 46828483 + 16683 + 25195;
        let idle: u64 = 46828483 + 16683;
        assert_eq!(parse_stat(STAT), Some((total - idle, total)));
        // Old kernels with only four fields.
        assert_eq!(parse_stat("cpu 1 2 3 4\n"), Some((6, 10)));
        assert_eq!(parse_stat("cpu0 1 2 3 4\n"), None);
        assert_eq!(parse_stat("cpu 1 2 x 4\n"), None);
        assert_eq!(parse_stat("cpu 1 2\n"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn percent_between_readings() {
        assert_eq!(cpu_percent((100, 1000), (150, 1100)), Some(50.0));
        assert_eq!(cpu_percent((100, 1000), (100, 1000)), None);
        assert_eq!(cpu_percent((100, 1000), (50, 900)), None);
        assert_eq!(cpu_percent((100, 1000), (900, 1100)), Some(100.0));
    }

    #[test]
    fn meminfo() {
        let text = "MemTotal:       16000000 kB\nMemFree:         1000000 kB\n\
                    MemAvailable:    4000000 kB\nBuffers:          200000 kB\n\
                    Cached:          2000000 kB\nHugePages_Total:       0\n";
        assert_eq!(parse_meminfo(text), Some(75.0));
        let old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n";
        assert_eq!(parse_meminfo(old), Some(60.0));
        assert_eq!(parse_meminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n"), None);
        assert_eq!(parse_meminfo("MemAvailable: 10 kB\n"), None);
        assert_eq!(parse_meminfo("garbage"), None);
    }

    #[test]
    fn loadavg() {
        assert_eq!(parse_loadavg("0.52 0.58 0.59 1/467 12345\n"), Some(0.52));
        assert_eq!(parse_loadavg("12.00 8.00 4.00 3/900 1\n"), Some(12.0));
        assert_eq!(parse_loadavg(""), None);
        assert_eq!(parse_loadavg("nope 1 2"), None);
    }

    #[test]
    fn df_arithmetic() {
        // 1000 blocks, 400 free of which 350 available to users: 600 / 950.
        let pct = used_percent(1000.0, 400.0, 350.0).unwrap();
        assert!((pct - 600.0 / 950.0 * 100.0).abs() < 1e-9);
        assert_eq!(used_percent(0.0, 0.0, 0.0), None);
        assert_eq!(used_percent(100.0, 100.0, 100.0), Some(0.0));
    }

    #[test]
    fn real_readers_on_this_machine() {
        let before = cpu_ticks().unwrap();
        assert!(before.0 <= before.1 && before.1 > 0);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let after = cpu_ticks().unwrap();
        assert!(after.1 >= before.1);
        if let Some(pct) = cpu_percent(before, after) {
            assert!((0.0..=100.0).contains(&pct), "{pct}");
        }
        let mem = memory_percent().unwrap();
        assert!((0.0..=100.0).contains(&mem), "{mem}");
        let disk = disk_percent(Path::new("/")).unwrap();
        assert!((0.0..=100.0).contains(&disk), "{disk}");
        assert!(disk_percent(Path::new("/definitely/not/here")).is_err());
        assert!(load1().unwrap() >= 0.0);
    }
}
