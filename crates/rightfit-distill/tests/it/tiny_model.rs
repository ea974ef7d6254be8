//! The trainable forward and backward on tiny random-weight models (real GGUF files).

use candle_core::{Device, Tensor, Var};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use rightfit_distill::{
    BaseModel, Batch, Example, Layers, LoraConfig, LoraWeights, Model, OptimConfig, Projection,
    Trainer,
};

use crate::tiny::{self, LLAMA, QWEN2, Shape};

fn base(shape: &Shape, dir: &tempfile::TempDir) -> BaseModel {
    let path = dir.path().join(format!("{}.gguf", shape.arch));
    tiny::write(&path, shape, 1);
    BaseModel::load(&path).expect("tiny model loads")
}

fn examples() -> Vec<Example> {
    vec![
        Example::prompt_answer(&[1, 5, 9, 13, 2, 7], &[11, 3, 4]),
        Example::prompt_answer(&[1, 8, 30], &[21, 6]),
        Example::prompt_answer(&[1, 17, 22, 39, 0], &[12]),
    ]
}

fn lora(rank: usize, layers: Layers) -> LoraConfig {
    LoraConfig {
        rank,
        alpha: 2.0 * rank as f32,
        targets: Projection::ALL.to_vec(),
        layers,
    }
}

fn model(shape: &Shape, dir: &tempfile::TempDir, cfg: &LoraConfig) -> Model {
    let base = base(shape, dir);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let w = LoraWeights::init(cfg, &base.hparams, &mut rng).expect("init");
    w.randomize_b(&mut rng, 0.3).expect("randomize");
    Model::new(base, w).expect("model")
}

fn entry(v: &Var, at: (usize, usize)) -> f32 {
    v.as_tensor().to_vec2::<f32>().expect("2d")[at.0][at.1]
}

fn set_entry(v: &Var, at: (usize, usize), x: f32) {
    let mut m = v.as_tensor().to_vec2::<f32>().expect("2d");
    m[at.0][at.1] = x;
    let flat: Vec<f32> = m.concat();
    let t = Tensor::from_vec(flat, v.shape(), &Device::Cpu).expect("shape");
    v.set(&t).expect("set");
}

fn check_gradients(shape: &Shape) {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = model(shape, &dir, &lora(2, Layers::All));
    let ex = examples();
    let refs: Vec<&Example> = ex.iter().collect();
    let batch = Batch::new(&refs, tiny::VOCAB).expect("batch");
    let loss = m.loss(&batch).expect("loss");
    let grads = loss.backward().expect("backward");
    let cases = [
        (0, Projection::Q, true, (0, 3)),
        (0, Projection::V, false, (2, 1)),
        (1, Projection::O, true, (1, 5)),
        (1, Projection::Down, false, (7, 0)),
        (1, Projection::Gate, true, (1, 2)),
    ];
    let mut largest = 0f32;
    for (layer, proj, is_a, at) in cases {
        let pair = m.lora.get(layer, proj).expect("pair exists");
        let var = if is_a { &pair.a } else { &pair.b };
        let analytic = grads
            .get(var.as_tensor())
            .expect("gradient")
            .to_vec2::<f32>()
            .expect("2d")[at.0][at.1];
        let x = entry(var, at);
        let eps = 1e-2;
        set_entry(var, at, x + eps);
        let up = m
            .loss(&batch)
            .expect("loss")
            .to_scalar::<f32>()
            .expect("scalar");
        set_entry(var, at, x - eps);
        let down = m
            .loss(&batch)
            .expect("loss")
            .to_scalar::<f32>()
            .expect("scalar");
        set_entry(var, at, x);
        let numeric = (up - down) / (2.0 * eps);
        assert!(
            (numeric - analytic).abs() <= 2e-3 + 2e-2 * analytic.abs(),
            "{} layer {layer} {proj:?} {} {at:?}: analytic {analytic}, finite difference {numeric}",
            shape.arch,
            if is_a { "A" } else { "B" }
        );
        largest = largest.max(analytic.abs());
    }
    // Gradients of zero would pass the comparison trivially.
    assert!(largest > 1e-2, "gradients are all ~0 ({largest})");
}

#[test]
fn llama_gradients_match_finite_differences() {
    check_gradients(&LLAMA);
}

#[test]
fn qwen2_gradients_match_finite_differences() {
    check_gradients(&QWEN2);
}

#[test]
fn padding_in_a_batch_changes_no_log_prob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = model(&LLAMA, &dir, &lora(2, Layers::All));
    let ex = examples();
    let together = m
        .token_log_probs(&Batch::new(&ex.iter().collect::<Vec<_>>(), tiny::VOCAB).expect("batch"))
        .expect("forward");
    let mut alone = Vec::new();
    for e in &ex {
        alone.extend(
            m.token_log_probs(&Batch::new(&[e], tiny::VOCAB).expect("batch"))
                .expect("forward"),
        );
    }
    assert_eq!(together.len(), 6);
    for (a, b) in together.iter().zip(&alone) {
        assert!((a - b).abs() < 1e-5, "batched {a} vs alone {b}");
    }
}

#[test]
fn a_fresh_lora_starts_from_the_base_model_and_top_layers_stop_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = base(&LLAMA, &dir);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let top = LoraWeights::init(&lora(2, Layers::Top(1)), &base.hparams, &mut rng).expect("init");
    assert!(top.pairs.iter().all(|p| p.layer == 1));
    assert_eq!(top.pairs.len(), 7);
    let none = LoraWeights {
        config: top.config.clone(),
        pairs: Vec::new(),
    };
    let ex = examples();
    let refs: Vec<&Example> = ex.iter().collect();
    let batch = Batch::new(&refs, tiny::VOCAB).expect("batch");
    let with = Model::new(base.clone(), top).expect("model");
    let without = Model::new(base, none).expect("model");
    // B starts at zero: the LoRA model is the base model exactly.
    assert_eq!(
        with.token_log_probs(&batch).expect("forward"),
        without.token_log_probs(&batch).expect("forward")
    );
    let grads = with
        .loss(&batch)
        .expect("loss")
        .backward()
        .expect("backward");
    let b = &with.lora.pairs[0].b;
    let g = grads.get(b.as_tensor()).expect("B gets a gradient");
    assert!(
        g.abs()
            .expect("abs")
            .sum_all()
            .expect("sum")
            .to_scalar::<f32>()
            .expect("f32")
            > 0.0
    );
}

#[test]
fn bad_examples_are_refused_with_a_reason() {
    let first = Example {
        tokens: vec![1, 2],
        answer: vec![true, true],
    };
    let e = Batch::new(&[&first], tiny::VOCAB).expect_err("first token as answer");
    assert!(e.to_string().contains("first token"), "{e}");
    let big = Example::prompt_answer(&[1], &[99]);
    let e = Batch::new(&[&big], tiny::VOCAB).expect_err("token out of range");
    assert!(e.to_string().contains("99"), "{e}");
    let none = Example::prompt_answer(&[1, 2], &[]);
    assert!(Batch::new(&[&none], tiny::VOCAB).is_err());
}

fn optim() -> OptimConfig {
    OptimConfig {
        lr: 1e-2,
        warmup_steps: 2,
        total_steps: 20,
        ..OptimConfig::default()
    }
}

#[test]
fn resuming_from_a_checkpoint_continues_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = lora(2, Layers::All);
    let ex = examples();
    let mut t = Trainer::new(base(&LLAMA, &dir), &cfg, optim(), 7).expect("trainer");
    for _ in 0..3 {
        let order = t.epoch_order(ex.len());
        let refs: Vec<&Example> = order.iter().take(2).map(|&i| &ex[i]).collect();
        let b = t.batch(&refs).expect("batch");
        t.step(&b).expect("step");
    }
    let ckpt = dir.path().join("run.ckpt.gguf");
    t.save_checkpoint(&ckpt).expect("save");
    let next = |t: &mut Trainer| {
        let order = t.epoch_order(ex.len());
        let refs: Vec<&Example> = order.iter().take(2).map(|&i| &ex[i]).collect();
        let b = t.batch(&refs).expect("batch");
        let s1 = t.step(&b).expect("step");
        let s2 = t.step(&b).expect("step");
        (order, s1, s2)
    };
    let uninterrupted = next(&mut t);
    let mut r =
        Trainer::resume(base(&LLAMA, &dir), &cfg, optim(), &ckpt).expect("resume from checkpoint");
    assert_eq!(r.steps_done(), 3);
    let resumed = next(&mut r);
    assert_eq!(uninterrupted.0, resumed.0, "the shuffle continues the same");
    assert_eq!(uninterrupted.1, resumed.1, "the next step is the same");
    assert_eq!(
        uninterrupted.2, resumed.2,
        "and the one after (moments restored)"
    );

    let other = lora(4, Layers::All);
    let e = Trainer::resume(base(&LLAMA, &dir), &other, optim(), &ckpt).expect_err("rank differs");
    let msg = e.to_string();
    assert!(
        msg.contains("run.ckpt.gguf") && msg.contains("rank=2"),
        "{msg}"
    );
}

#[test]
fn training_fits_a_tiny_task() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ex = examples();
    let mut t =
        Trainer::new(base(&QWEN2, &dir), &lora(4, Layers::All), optim(), 1).expect("trainer");
    let before = t.eval_loss(&ex, 8).expect("eval");
    for _ in 0..20 {
        let refs: Vec<&Example> = ex.iter().collect();
        let b = t.batch(&refs).expect("batch");
        t.step(&b).expect("step");
    }
    let after = t.eval_loss(&ex, 8).expect("eval");
    assert!(after < 0.5 * before, "loss {before} -> {after}");
}
