//! Placeholder until the device work lands (replaced by its module).

use std::path::Path;

use rightfit_config::Settings;
use rightfit_decide::ModelShape;
use rightfit_decide::device::Calibration;

pub fn shape_of(path: &Path) -> anyhow::Result<ModelShape> {
    anyhow::bail!("not yet: {}", path.display())
}

pub fn calibration(_settings: &Settings) -> anyhow::Result<Calibration> {
    Ok(Calibration {
        decode_efficiency: 0.5,
        prefill_efficiency: 0.3,
        source: "placeholder".to_owned(),
    })
}
