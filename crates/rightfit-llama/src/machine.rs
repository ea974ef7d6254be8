//! This machine's figures for the roofline calibration: memory read bandwidth (measured) and
//! peak compute (worked out from the CPU's features and clock), plus its memory.
//!
//! Linux only: elsewhere the files read here are missing and the estimate says so.

use std::path::Path;
use std::time::Instant;

use rightfit_types::device::MachineFigures;

use crate::engine::proc_kb_field;

/// Buffer the bandwidth test reads at least: far larger than any CPU cache of the 2020s.
const MIN_BUFFER_BYTES: u64 = 1 << 30;

/// Repetitions of the bandwidth test; the best is kept (the least disturbed by other work).
const BANDWIDTH_REPS: usize = 5;

/// Why a figure could not be had.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// The test buffer is larger than this platform's address space.
    #[error("the buffer does not fit in memory")]
    BufferTooLarge,
    /// The test buffer could not be allocated.
    #[error("cannot allocate {mib} MiB to measure bandwidth")]
    Allocate {
        /// Its size.
        mib: u64,
        /// Why.
        source: std::collections::TryReserveError,
    },
    /// No clock frequency anywhere this looks.
    #[error("cannot read this CPU's clock (no cpufreq, no 'cpu MHz' in /proc/cpuinfo)")]
    NoClock,
}

/// A measured memory read bandwidth.
#[derive(Debug, Clone, PartialEq)]
pub struct Bandwidth {
    /// Best rate over the repetitions, GB/s (10⁹ bytes per second).
    pub gbs: f64,
    /// How it was measured, in words.
    pub method: String,
}

/// Measures how fast `threads` threads can stream-read memory: a buffer of at least 1 GiB and
/// at least four times the last-level cache is filled (so every page is really there), then
/// each thread scans its own contiguous slice for a byte that is not there (the `memchr`
/// crate's SIMD search, optimised even in debug builds, where a loop of our own would be bound
/// by unoptimised code rather than by memory); the rate is the buffer's bytes over the wall
/// time of the slowest thread, best of [`BANDWIDTH_REPS`].
pub fn memory_bandwidth(threads: usize) -> Result<Bandwidth, MachineError> {
    let threads = threads.max(1);
    let llc = last_level_cache_bytes();
    let available = proc_kb_field(&read("/proc/meminfo"), "MemAvailable:");
    let mut bytes = MIN_BUFFER_BYTES.max(llc.saturating_mul(4));
    if available > 0 {
        // Leave room for the model that was just measured and everything else.
        bytes = bytes.min((available / 4).max(64 << 20));
    }
    let len = usize::try_from(bytes).map_err(|_| MachineError::BufferTooLarge)?;
    let mut buffer: Vec<u8> = Vec::new();
    buffer
        .try_reserve_exact(len)
        .map_err(|source| MachineError::Allocate {
            mib: bytes >> 20,
            source,
        })?;
    // Non-zero bytes: a zero-filled allocation could be served from the shared zero page.
    buffer.resize(len, 1);
    let chunk = len.div_ceil(threads);
    let mut best = 0.0f64;
    for _ in 0..BANDWIDTH_REPS {
        let start = Instant::now();
        let found = std::thread::scope(|scope| {
            let handles: Vec<_> = buffer
                .chunks(chunk)
                .map(|part| scope.spawn(move || memchr::memchr(0xA5, part)))
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok().flatten())
                .count()
        });
        let secs = start.elapsed().as_secs_f64();
        std::hint::black_box(found);
        best = best.max(bytes as f64 / secs / 1e9);
    }
    Ok(Bandwidth {
        gbs: best,
        method: format!(
            "{threads} threads scanning a {} MiB buffer (last-level cache {} MiB), best of \
             {BANDWIDTH_REPS}",
            bytes >> 20,
            llc >> 20
        ),
    })
}

/// Peak compute of the cores the engine uses, in the catalogue's CPU convention.
#[derive(Debug, Clone, PartialEq)]
pub struct PeakCompute {
    /// TFLOPS.
    pub tflops: f64,
    /// How it was worked out, in words.
    pub method: String,
}

/// `min(threads, cores) × base clock × FP32 FLOP per cycle`, the clock from cpufreq's base
/// frequency (else its maximum, else `cpu MHz` in `/proc/cpuinfo`) and FLOP per cycle from the
/// CPU's features ([`fp32_flops_per_cycle`]).
pub fn peak_compute(threads: usize) -> Result<PeakCompute, MachineError> {
    let cpuinfo = read("/proc/cpuinfo");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let used = threads.clamp(1, cores);
    let cpufreq = Path::new("/sys/devices/system/cpu/cpu0/cpufreq");
    let (ghz, clock_source) = if let Some(khz) = read_number(&cpufreq.join("base_frequency")) {
        (khz / 1e6, "cpufreq base_frequency")
    } else if let Some(khz) = read_number(&cpufreq.join("cpuinfo_max_freq")) {
        (khz / 1e6, "cpufreq cpuinfo_max_freq")
    } else if let Some(mhz) = cpuinfo_field(&cpuinfo, "cpu MHz").and_then(|v| v.parse::<f64>().ok())
    {
        (mhz / 1e3, "cpu MHz in /proc/cpuinfo")
    } else {
        return Err(MachineError::NoClock);
    };
    let vendor = cpuinfo_field(&cpuinfo, "vendor_id").unwrap_or_default();
    let flags = cpuinfo_field(&cpuinfo, "flags")
        .or_else(|| cpuinfo_field(&cpuinfo, "Features"))
        .unwrap_or_default();
    let (per_cycle, why) = fp32_flops_per_cycle(&vendor, &flags);
    let tflops = used as f64 * ghz * per_cycle / 1000.0;
    Ok(PeakCompute {
        tflops,
        method: format!(
            "{used} cores × {ghz:.3} GHz ({clock_source}) × {per_cycle:.0} FP32 FLOP/cycle \
             ({why}) = {:.1} GFLOPS",
            tflops * 1000.0
        ),
    })
}

/// FP32 FLOP per cycle per core from `/proc/cpuinfo`'s vendor and flags: two fused
/// multiply-add units of the widest vector the CPU has, × lanes × 2.
///
/// - AVX-512 on Intel: 2 × 16 lanes × 2 = 64 (Xeon Gold/Platinum have two 512-bit FMA units;
///   parts with one reach half);
/// - AVX-512 on AMD (Zen 4 splits 512-bit work over two 256-bit units) and AVX2 with FMA:
///   2 × 8 × 2 = 32;
/// - AVX without FMA: 16; SSE2: 8; Arm ASIMD (NEON, 2 × 128-bit FMA): 16.
pub fn fp32_flops_per_cycle(vendor: &str, flags: &str) -> (f64, &'static str) {
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    if has("avx512f") && vendor == "GenuineIntel" {
        (64.0, "AVX-512, 2 FMA units")
    } else if has("avx512f") {
        (32.0, "AVX-512 on 256-bit FMA units")
    } else if has("avx2") && has("fma") {
        (32.0, "AVX2 + FMA, 2 units")
    } else if has("avx") {
        (16.0, "AVX, no FMA")
    } else if has("asimd") {
        (16.0, "Arm ASIMD, 2 × 128-bit FMA")
    } else {
        (8.0, "SSE2")
    }
}

/// This machine's memory and what a new process could use now (`MemTotal`, `MemAvailable`),
/// bytes; zeros when unknown.
pub fn memory() -> (u64, u64) {
    let text = read("/proc/meminfo");
    (
        proc_kb_field(&text, "MemTotal:"),
        proc_kb_field(&text, "MemAvailable:"),
    )
}

/// Everything [`MachineFigures`] holds, measured now with `threads` threads: memory bandwidth
/// ([`memory_bandwidth`], seconds of work: call it off the async runtime), peak compute
/// ([`peak_compute`]) and memory ([`memory`]).
pub fn figures(threads: usize) -> Result<MachineFigures, MachineError> {
    let bandwidth = memory_bandwidth(threads)?;
    let compute = peak_compute(threads)?;
    let (memory_bytes, available_memory_bytes) = memory();
    Ok(MachineFigures {
        bandwidth_gbs: bandwidth.gbs,
        bandwidth_method: bandwidth.method,
        compute_tflops: compute.tflops,
        compute_method: compute.method,
        memory_bytes,
        available_memory_bytes,
    })
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn read_number(path: &Path) -> Option<f64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of the first `key : value` line of `/proc/cpuinfo`.
fn cpuinfo_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// The largest cache of CPU 0 (sysfs sizes such as `491520K` or `32M`), bytes; 0 when unknown.
fn last_level_cache_bytes() -> u64 {
    let Ok(entries) = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache") else {
        return 0;
    };
    entries
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("size")).ok())
        .filter_map(|s| parse_size(&s))
        .max()
        .unwrap_or(0)
}

fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().ok()?;
    let scale = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return None,
    };
    Some(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_per_cycle_follows_the_vector_units() {
        let intel = "fpu sse2 avx avx2 fma avx512f avx512bw";
        assert_eq!(fp32_flops_per_cycle("GenuineIntel", intel).0, 64.0);
        assert_eq!(fp32_flops_per_cycle("AuthenticAMD", intel).0, 32.0);
        assert_eq!(
            fp32_flops_per_cycle("GenuineIntel", "sse2 avx avx2 fma").0,
            32.0
        );
        assert_eq!(fp32_flops_per_cycle("GenuineIntel", "sse2 avx").0, 16.0);
        assert_eq!(fp32_flops_per_cycle("", "fp asimd evtstrm").0, 16.0);
        assert_eq!(fp32_flops_per_cycle("GenuineIntel", "sse sse2").0, 8.0);
        // A flag that merely starts like another does not count.
        assert_eq!(
            fp32_flops_per_cycle("GenuineIntel", "sse2 avx512fp16x").0,
            8.0
        );
    }

    #[test]
    fn parses_proc_and_sys_formats() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 2599.998\n";
        assert_eq!(
            cpuinfo_field(cpuinfo, "cpu MHz").as_deref(),
            Some("2599.998")
        );
        assert_eq!(cpuinfo_field(cpuinfo, "flags"), None);
        let meminfo = "MemTotal:       24000000 kB\nMemAvailable:   1000 kB\n";
        assert_eq!(proc_kb_field(meminfo, "MemTotal:"), 24_000_000 * 1024);
        assert_eq!(proc_kb_field(meminfo, "MemAvailable:"), 1000 * 1024);
        assert_eq!(parse_size("491520K\n"), Some(491_520 * 1024));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("12Q"), None);
    }
}
