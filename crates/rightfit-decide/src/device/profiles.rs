//! The built-in device profiles, with where each figure comes from.
//!
//! Conventions, so that figures compare across devices and with the calibration:
//!
//! - **memory** is the installed memory in bytes (GiB-sized parts); **usable** memory is an
//!   assumption stated in each note (what the OS, the runtime and other programs leave);
//! - **bandwidth** is the peak the vendor states, or bus width × transfer rate where it states
//!   only the memory type (the note says which), in GB/s (10⁹ bytes per second);
//! - **compute** is the peak for the matrix products llama.cpp runs there: on GPUs, dense
//!   (no sparsity) FP16 tensor-core TFLOPS; on Apple GPUs, FP32 ALU TFLOPS (FP16 runs at the same
//!   rate); on CPUs, FP32 SIMD fused-multiply-add TFLOPS at the base clock = cores × clock ×
//!   FP32 FLOP per cycle. The calibration measured on this machine uses the same CPU convention.
//! - **price**: cloud devices at the named provider's on-demand list price per hour; owned
//!   devices at their launch price written off over [`LIFETIME_MONTHS`], plus electricity at
//!   [`USD_PER_KWH`]. A phone has no price: it is the user's.
//!
//! Prices change; the sources say when each was read.

use super::profile::{DeviceKind, DevicePrice, DeviceProfile};

/// Months an owned device is written off over (an assumption).
pub const LIFETIME_MONTHS: f64 = 36.0;

/// Electricity price for owned devices, US dollars per kWh: the US average residential retail
/// price in 2024, about 16.5 ¢ (EIA, Electric Power Monthly, table 5.3).
pub const USD_PER_KWH: f64 = 0.165;

const EIA: &str = "https://www.eia.gov/electricity/monthly/epm_table_grapher.php?t=epmt_5_3 — \
                   EIA Electric Power Monthly, Table 5.3: average retail price of electricity \
                   (US residential, 2024 ≈ 16.5 ¢/kWh)";

const GIB: u64 = 1 << 30;

fn owned(purchase_usd: f64, watts: f64) -> Option<DevicePrice> {
    Some(DevicePrice::Owned {
        purchase_usd,
        months: LIFETIME_MONTHS,
        watts,
        usd_per_kwh: USD_PER_KWH,
    })
}

fn hourly(usd: f64) -> Option<DevicePrice> {
    Some(DevicePrice::Hourly { usd })
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Every built-in profile, edge devices first, then servers and cloud GPUs.
pub fn catalogue() -> Vec<DeviceProfile> {
    vec![
        DeviceProfile {
            id: "raspberry-pi-5-8gb".into(),
            name: "Raspberry Pi 5 (8 GB)".into(),
            kind: DeviceKind::Cpu,
            memory_bytes: 8 * GIB,
            usable_memory_bytes: 7 * GIB,
            bandwidth_gbs: 17.07,
            compute_tflops: 0.1536,
            price: owned(80.0, 8.0),
            sources: strings(&[
                "https://www.raspberrypi.com/products/raspberry-pi-5/ — Raspberry Pi 5 product \
                 page: BCM2712, quad-core Arm Cortex-A76 at 2.4 GHz, LPDDR4X-4267 SDRAM",
                "https://www.raspberrypi.com/news/introducing-raspberry-pi-5/ — Introducing: \
                 Raspberry Pi 5! (2023-09-28): 32-bit LPDDR4X at 4267 MT/s; $80 for 8 GB",
                "https://liliputing.com/raspberry-pi-5-offers-2x-the-performance-up-to-2x-the-ram-and-a-1-7x-price-hike-starts-at-60/ \
                 — Liliputing on the launch: 4 × Cortex-A76 at 2.4 GHz, 32-bit LPDDR4X 4267 MT/s, \
                 8 GB for $80",
                "https://developer.arm.com/documentation/pjdoc466751330-7215/latest — Arm \
                 Cortex-A76 Software Optimization Guide: two 128-bit ASIMD/FP pipes, FMA on both",
                EIA,
            ]),
            note: "Bandwidth = 32-bit bus × 4267 MT/s = 17.07 GB/s. Compute = 4 cores × 2.4 GHz × \
                   16 FP32 FLOP/cycle (2 × 128-bit FMA pipes × 4 lanes × 2) = 153.6 GFLOPS; \
                   llama.cpp runs on the CPU. Usable: 7 of 8 GiB, assuming a headless OS. Power: \
                   8 W under full CPU load is an assumption (reviews measure 6–8 W; the official \
                   supply is 27 W)."
                .into(),
        },
        DeviceProfile {
            id: "jetson-orin-nano-super".into(),
            name: "NVIDIA Jetson Orin Nano Super Developer Kit (8 GB, 25 W mode)".into(),
            kind: DeviceKind::Soc,
            memory_bytes: 8 * GIB,
            usable_memory_bytes: 13 * GIB / 2,
            bandwidth_gbs: 102.0,
            compute_tflops: 16.7,
            price: owned(249.0, 25.0),
            sources: strings(&[
                "https://developer.nvidia.com/blog/nvidia-jetson-orin-nano-developer-kit-gets-a-super-boost/ \
                 — NVIDIA Jetson Orin Nano Developer Kit Gets a \"Super\" Boost (2024-12-17): \
                 67 INT8 TOPS (sparse), 102 GB/s, 25 W mode, $249",
                "https://www.nvidia.com/en-us/autonomous-machines/embedded-systems/jetson-orin/nano-super-developer-kit/ \
                 — Jetson Orin Nano Super Developer Kit: 1024 CUDA cores, 32 tensor cores, 8 GB \
                 128-bit LPDDR5",
                "https://www.brojogopalsapui.com/ai-foundations/sub_contents/AI_hardware/jetson_orin_nano_light.html \
                 — summary of NVIDIA's Orin Nano Super datasheet (Dec 2024): GPU 625 MHz → 1.02 \
                 GHz, 68 → 102 GB/s, 40 → 67 TOPS, 15 → 25 W",
                EIA,
            ]),
            note: "The \"Super\" configuration (JetPack 6.1+, GPU at 1.02 GHz, 102 GB/s); the \
                   original Orin Nano 8GB mode is 68 GB/s and 40 TOPS. Compute = the stated 67 \
                   sparse INT8 TOPS ÷ 2 (dense) ÷ 2 (Ampere tensor cores run FP16 at half the \
                   INT8 rate) ≈ 16.7 TFLOPS dense FP16, equal to 32 tensor cores × 512 FLOP/clock \
                   × 1.02 GHz. llama.cpp runs on the GPU (CUDA). Usable: 6.5 of 8 GiB shared by \
                   CPU and GPU, assuming a headless JetPack install."
                .into(),
        },
        DeviceProfile {
            id: "phone-snapdragon-8-gen-3".into(),
            name: "Android phone, Snapdragon 8 Gen 3, 12 GB (e.g. Galaxy S24 Ultra)".into(),
            kind: DeviceKind::Soc,
            memory_bytes: 12 * GIB,
            usable_memory_bytes: 24 * GIB / 5,
            bandwidth_gbs: 76.8,
            compute_tflops: 0.3552,
            price: None,
            sources: strings(&[
                "https://www.qualcomm.com/products/mobile/snapdragon/smartphones/snapdragon-8-series-mobile-platforms/snapdragon-8-gen-3-mobile-platform \
                 — Snapdragon 8 Gen 3 Mobile Platform product brief: 1× Cortex-X4 at 3.3 GHz, 5× \
                 performance cores at 3.2/3.0 GHz, 2× efficiency at 2.3 GHz; LPDDR5X up to 4800 MHz",
                "https://trendgrnd.com/qualcomms-snapdragon-8-gen-3-infuses-high-performance-ai-for-upcoming-flagship-smartphones/ \
                 — Snapdragon 8 Gen 3 specs: 1 × X4 @ 3.3 GHz, 3 × A720 @ 3.2, 2 × A720 @ 3.0, \
                 2 × A520 @ 2.3 GHz; LPDDR5X up to 4800 MHz",
                "https://developer.arm.com/Processors/Cortex-X4 — Arm Cortex-X4: four 128-bit \
                 SIMD pipes",
                "https://developer.arm.com/Processors/Cortex-A720 — Arm Cortex-A720: two 128-bit \
                 SIMD pipes",
            ]),
            note: "Bandwidth = 64-bit bus (4 × 16-bit channels) × 9600 MT/s (4800 MHz, double \
                   data rate) = 76.8 GB/s. Compute = CPU cores llama.cpp threads run on: \
                   Cortex-X4 3.3 GHz × 32 FP32 FLOP/cycle + Cortex-A720 (3 × 3.2 + 2 × 3.0 GHz) × \
                   16 = 355.2 GFLOPS (the two Cortex-A520 efficiency cores left out). Usable: 40% \
                   of 12 GiB is an assumption — Android keeps the OS and other apps resident and \
                   its low-memory killer stops large apps first. Not priced: the phone is the \
                   user's, so serving from it costs the deployer no hardware."
                .into(),
        },
        DeviceProfile {
            id: "macbook-air-m2-16gb".into(),
            name: "Apple MacBook Air 13\" (M2, 8-core GPU, 16 GB)".into(),
            kind: DeviceKind::Soc,
            memory_bytes: 16 * GIB,
            usable_memory_bytes: 32 * GIB / 3,
            bandwidth_gbs: 100.0,
            compute_tflops: 2.863,
            price: owned(999.0, 20.0),
            sources: strings(&[
                "https://www.apple.com/newsroom/2022/06/apple-unveils-m2-with-breakthrough-performance-and-capabilities/ \
                 — Apple unveils M2 (2022-06-06): 100 GB/s unified memory bandwidth, up to 24 GB, \
                 up to 10-core GPU",
                "https://www.apple.com/newsroom/2020/11/apple-unleashes-m1/ — Apple unleashes M1 \
                 (2020-11-10): 8-core GPU, 2.6 TFLOPS (= 8 × 128 ALUs × 2 × 1.278 GHz, the \
                 formula used here)",
                "https://www.notebookcheck.net/Apple-M2-GPU-GPU-Benchmarks-and-Specs.632540.0.html \
                 — Apple M2 GPU: 1398 MHz",
                "https://macrumors.com/2024/11/01/macbook-air-surprising-upgrade — MacRumors \
                 (2024-11-01), quoting Apple's 2024-10-30 release: MacBook Air with M2 now starts \
                 with 16 GB, still from $999",
                EIA,
            ]),
            note: "Compute = 8 GPU cores × 128 FP32 ALUs × 2 × 1.398 GHz = 2.86 TFLOPS (Apple \
                   GPUs run FP16 at the FP32 rate); llama.cpp runs on the GPU (Metal). Usable: \
                   Metal's recommended working set on a 16 GB Mac is about two thirds of memory. \
                   Power: 20 W sustained is an assumption (fanless; ships with a 30 W adapter)."
                .into(),
        },
        DeviceProfile {
            id: "amd-epyc-9654".into(),
            name: "AMD EPYC 9654 server (96 cores, 1 socket, 12 × 32 GB DDR5-4800)".into(),
            kind: DeviceKind::Cpu,
            memory_bytes: 384 * GIB,
            usable_memory_bytes: 384 * GIB / 10 * 9,
            bandwidth_gbs: 460.8,
            compute_tflops: 7.3728,
            price: owned(11_805.0, 360.0),
            sources: strings(&[
                "https://www.amd.com/en/products/processors/server/epyc/4th-generation-9004-and-8004-series/amd-epyc-9654.html \
                 — AMD EPYC 9654: 96 cores, base 2.4 GHz, 12 DDR5-4800 channels, 460.8 GB/s per \
                 socket, default TDP 360 W",
                "https://www.hpctech.co.jp/product/amd-epyc-9004-series/ — AMD EPYC 9004 series \
                 table: 9654 96 cores, 2.40 GHz base, 12 × DDR5-4800, 360 W default TDP",
                "https://fanaticosdelhardware.com/amd-epyc-9654-superior-ryzen-threadripper-pro-5995wx-en-casi-un-30-en-passmark \
                 — EPYC 9654 list price $11,805",
                "https://www.amd.com/content/dam/amd/en/documents/epyc-technical-docs/software-optimization-guides/57647.zip \
                 — Software Optimization Guide for AMD Family 19h (Zen 4): two 256-bit FMA pipes; \
                 AVX-512 runs as two 256-bit halves",
                EIA,
            ]),
            note: "Bandwidth = 12 channels × 4800 MT/s × 8 bytes. Compute = 96 cores × 2.4 GHz \
                   (base) × 32 FP32 FLOP/cycle (2 × 256-bit FMA × 8 lanes × 2) = 7.37 TFLOPS. \
                   Usable: 90% of 384 GiB. Price is a LOWER BOUND: the CPU's launch list price and \
                   its TDP only — board, memory, storage and chassis excluded."
                .into(),
        },
        DeviceProfile {
            id: "nvidia-l4".into(),
            name: "NVIDIA L4 24 GB (AWS g6.xlarge)".into(),
            kind: DeviceKind::Gpu,
            memory_bytes: 24 * GIB,
            usable_memory_bytes: 43 * GIB / 2,
            bandwidth_gbs: 300.0,
            compute_tflops: 121.0,
            price: hourly(0.8048),
            sources: strings(&[
                "https://www.nvidia.com/en-us/data-center/l4/ — NVIDIA L4 Tensor Core GPU \
                 datasheet: 24 GB GDDR6, 300 GB/s, FP16 tensor 242 TFLOPS with sparsity, 72 W",
                "https://aws.amazon.com/ec2/instance-types/g6/ — Amazon EC2 G6 instances (1 × L4 \
                 in g6.xlarge)",
                "https://aws.amazon.com/ec2/pricing/on-demand/ — Amazon EC2 On-Demand pricing: \
                 g6.xlarge, Linux, us-east-1, $0.8048 per hour",
            ]),
            note: "Compute: 242 TFLOPS with 2:4 sparsity ÷ 2 = 121 TFLOPS dense FP16 tensor. \
                   Usable: 21.5 GiB (ECC and the CUDA context take the rest). Price: the whole \
                   instance (4 vCPUs, 16 GiB) on demand."
                .into(),
        },
        DeviceProfile {
            id: "nvidia-a10g".into(),
            name: "NVIDIA A10G 24 GB (AWS g5.xlarge)".into(),
            kind: DeviceKind::Gpu,
            memory_bytes: 24 * GIB,
            usable_memory_bytes: 43 * GIB / 2,
            bandwidth_gbs: 600.0,
            compute_tflops: 70.0,
            price: hourly(1.006),
            sources: strings(&[
                "https://aws.amazon.com/ec2/instance-types/g5/ — Amazon EC2 G5 instances: NVIDIA \
                 A10G Tensor Core GPUs, 24 GB each",
                "https://www.baseten.co/blog/nvidia-a10-vs-a10g-for-ml-model-inference/ — Baseten, \
                 NVIDIA A10 vs A10G for ML model inference: both 24 GB GDDR6 at 600 GB/s; A10G \
                 70 TFLOPS FP16 tensor (A10: 125)",
                "https://aws.amazon.com/ec2/pricing/on-demand/ — Amazon EC2 On-Demand pricing: \
                 g5.xlarge, Linux, us-east-1, $1.006 per hour",
            ]),
            note:
                "The A10G is an AWS-only variant of the A10 with no NVIDIA datasheet of its own; \
                   70 TFLOPS dense FP16 tensor is from Baseten's spec comparison (the A10's \
                   datasheet says 125). Usable: 21.5 GiB. Price: the whole instance (4 vCPUs, \
                   16 GiB) on demand."
                    .into(),
        },
        DeviceProfile {
            id: "nvidia-h100-sxm".into(),
            name: "NVIDIA H100 SXM5 80 GB (one GPU of AWS p5.48xlarge)".into(),
            kind: DeviceKind::Gpu,
            memory_bytes: 80 * GIB,
            usable_memory_bytes: 78 * GIB,
            bandwidth_gbs: 3350.0,
            compute_tflops: 989.4,
            price: hourly(6.88),
            sources: strings(&[
                "https://www.nvidia.com/en-us/data-center/h100/ — NVIDIA H100 Tensor Core GPU \
                 datasheet (SXM): 80 GB HBM3, 3.35 TB/s, FP16 tensor 1,979 TFLOPS with sparsity, \
                 up to 700 W",
                "https://aws.amazon.com/ec2/instance-types/p5/ — Amazon EC2 P5 instances: 8 × \
                 H100 SXM in p5.48xlarge",
                "https://aws.amazon.com/ec2/pricing/on-demand/ — Amazon EC2 On-Demand pricing: \
                 p5.48xlarge, Linux, us-east-1, $55.04 per hour (after AWS's June 2025 P5 price \
                 cut)",
                "https://raw.githubusercontent.com/datareceipts/data-receipts/main/109-gpu-pricing/hyperscalers.json \
                 — GPU price table retrieved 2026-11-09: p5.48xlarge $55.04/h, $6.88 per GPU hour",
            ]),
            note:
                "The SXM5 part (the PCIe card has 2.0 TB/s and 756 TFLOPS). Compute: 1,979 ÷ 2 = \
                   989.4 TFLOPS dense FP16 tensor. Usable: 78 GiB. Price: p5.48xlarge's $55.04 \
                   an hour ÷ 8 GPUs — AWS rents H100s eight at a time, so one GPU's share is a \
                   floor on what a single-GPU deployment pays there."
                    .into(),
        },
    ]
}

/// The profile with this id.
pub fn find(id: &str) -> Option<DeviceProfile> {
    catalogue().into_iter().find(|d| d.id == id)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_profile_is_sourced_and_sane() {
        let all = catalogue();
        let mut ids = HashSet::new();
        for d in &all {
            assert!(ids.insert(d.id.clone()), "duplicate id {}", d.id);
            assert!(!d.sources.is_empty(), "{}: no sources", d.id);
            assert!(
                d.sources.iter().all(|s| s.starts_with("https://")),
                "{}: every source starts with its URL",
                d.id
            );
            assert!(!d.note.is_empty() && !d.name.is_empty(), "{}", d.id);
            assert!(d.memory_bytes > 0 && d.usable_memory_bytes > 0, "{}", d.id);
            assert!(d.usable_memory_bytes <= d.memory_bytes, "{}", d.id);
            assert!(d.bandwidth_gbs > 0.0 && d.compute_tflops > 0.0, "{}", d.id);
            match d.price {
                Some(DevicePrice::Hourly { usd }) => assert!(usd > 0.0, "{}", d.id),
                Some(DevicePrice::Owned {
                    purchase_usd,
                    months,
                    watts,
                    usd_per_kwh,
                }) => {
                    assert!(purchase_usd > 0.0 && months > 0.0, "{}", d.id);
                    assert!(watts > 0.0 && usd_per_kwh > 0.0, "{}", d.id);
                }
                None => assert!(d.note.contains("Not priced"), "{}: say why", d.id),
            }
            assert!(
                d.id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}: ids are typed on the command line",
                d.id
            );
        }
    }

    #[test]
    fn covers_the_devices_the_issue_names() {
        for id in [
            "raspberry-pi-5-8gb",
            "jetson-orin-nano-super",
            "phone-snapdragon-8-gen-3",
            "macbook-air-m2-16gb",
            "amd-epyc-9654",
            "nvidia-l4",
            "nvidia-a10g",
            "nvidia-h100-sxm",
        ] {
            assert!(find(id).is_some(), "{id} missing");
        }
        assert_eq!(find("no-such-device"), None);
    }

    #[test]
    fn derived_figures_match_their_notes() {
        // Bus width × transfer rate, and cores × clock × FLOP per cycle, as the notes say.
        let pi = find("raspberry-pi-5-8gb").expect("pi");
        assert!((pi.bandwidth_gbs - 4.0 * 4.267).abs() < 0.01);
        assert!((pi.compute_tflops - 4.0 * 2.4 * 16.0 / 1000.0).abs() < 1e-9);
        let epyc = find("amd-epyc-9654").expect("epyc");
        assert!((epyc.bandwidth_gbs - 12.0 * 4.8 * 8.0).abs() < 1e-9);
        assert!((epyc.compute_tflops - 96.0 * 2.4 * 32.0 / 1000.0).abs() < 1e-9);
        let phone = find("phone-snapdragon-8-gen-3").expect("phone");
        assert!((phone.bandwidth_gbs - 8.0 * 9.6).abs() < 1e-9);
        let cpu = 3.3 * 32.0 + (3.0 * 3.2 + 2.0 * 3.0) * 16.0;
        assert!((phone.compute_tflops - cpu / 1000.0).abs() < 1e-9);
        let mac = find("macbook-air-m2-16gb").expect("mac");
        assert!((mac.compute_tflops - 8.0 * 128.0 * 2.0 * 1.398 / 1000.0).abs() < 0.001);
    }
}
