//! Reports of evaluation results (to be written).
