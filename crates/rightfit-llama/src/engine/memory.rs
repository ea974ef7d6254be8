//! Process memory, read from `/proc/self/status` (Linux; zero elsewhere).

/// Resident memory of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcessMemory {
    /// Resident set size now, in bytes.
    pub rss_bytes: u64,
    /// Highest resident set size so far, in bytes.
    pub peak_rss_bytes: u64,
}

impl ProcessMemory {
    /// Reads the current figures.
    pub fn now() -> Self {
        let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
            return Self::default();
        };
        Self {
            rss_bytes: proc_kb_field(&status, "VmRSS:"),
            peak_rss_bytes: proc_kb_field(&status, "VmHWM:"),
        }
    }
}

/// A `NAME: <n> kB` line of a `/proc` file (`/proc/self/status`, `/proc/meminfo`) in bytes; 0
/// when the line is missing or unreadable.
pub fn proc_kb_field(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status_fields() {
        let s = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(proc_kb_field(s, "VmRSS:"), 1024 * 1024);
        assert_eq!(proc_kb_field(s, "VmHWM:"), 2048 * 1024);
        assert_eq!(proc_kb_field(s, "VmSwap:"), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let m = ProcessMemory::now();
        assert!(m.rss_bytes > 0 && m.peak_rss_bytes >= m.rss_bytes, "{m:?}");
    }
}
