//! Adapter files: llama.cpp's layout (read back with rightfit-llama's independent GGUF reader),
//! round trips, and located errors for adapters that do not fit.

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use rightfit_distill::{
    Arch, BaseHeader, BaseModel, Layers, LoraConfig, LoraWeights, Projection, load_adapter,
    read_adapter, write_adapter,
};

use crate::tiny::{self, LLAMA, QWEN2, Shape};

fn lora_for(base: &BaseModel, rank: usize) -> LoraWeights {
    let cfg = LoraConfig {
        rank,
        alpha: 16.0,
        targets: vec![Projection::Q, Projection::Down],
        layers: Layers::All,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let w = LoraWeights::init(&cfg, &base.hparams, &mut rng).expect("init");
    w.randomize_b(&mut rng, 0.1).expect("b");
    w
}

fn tiny_base(dir: &tempfile::TempDir, name: &str, shape: &Shape) -> BaseModel {
    let path = dir.path().join(name);
    tiny::write(&path, shape, 2);
    BaseModel::load(&path).expect("load")
}

#[test]
fn the_adapter_file_has_llama_cpps_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = tiny_base(&dir, "base.gguf", &LLAMA);
    let w = lora_for(&base, 3);
    let path = dir.path().join("adapter.gguf");
    write_adapter(
        &path,
        &w,
        Arch::Llama,
        &[("rightfit.data".into(), "abc".into())],
    )
    .expect("write");
    // Read with the engine crate's own GGUF reader, in ggml's dimension order (innermost first).
    let h = rightfit_llama::gguf::read_header(&path).expect("a valid GGUF file");
    assert_eq!(h.get_str("general.type"), Some("adapter"));
    assert_eq!(h.get_str("general.architecture"), Some("llama"));
    assert_eq!(h.get_str("adapter.type"), Some("lora"));
    assert_eq!(h.get_str("rightfit.data"), Some("abc"));
    match h.metadata.get("adapter.lora.alpha") {
        // (That reader widens f32 to f64; llama.cpp insists on a GGUF f32, which candle writes.)
        Some(rightfit_llama::gguf::Value::F64(a)) => assert_eq!(*a, 16.0),
        other => panic!("adapter.lora.alpha is {other:?}"),
    }
    let find = |n: &str| h.tensors.iter().find(|t| t.name == n).expect(n).clone();
    let a = find("blk.1.attn_q.weight.lora_a");
    let b = find("blk.1.attn_q.weight.lora_b");
    // attn_q is ne = [n_embd, n_embd] = [in, out]; A must be [in, r], B [r, out]; F32 = type 0.
    assert_eq!(a.dims, vec![16, 3]);
    assert_eq!(b.dims, vec![3, 16]);
    let down_a = find("blk.0.ffn_down.weight.lora_a");
    let down_b = find("blk.0.ffn_down.weight.lora_b");
    assert_eq!(down_a.dims, vec![24, 3], "ffn_down's input is n_ff");
    assert_eq!(down_b.dims, vec![3, 16]);
    assert!(h.tensors.iter().all(|t| t.ggml_type == 0));
    assert_eq!(h.tensors.len(), 2 * 2 * 2);
    // The engine's own check (llama.cpp's rules) accepts it against the base.
    let base_header = rightfit_llama::gguf::read_header(&base.path).expect("base");
    rightfit_llama::engine::check_adapter(&path, &base_header).expect("fits the base");

    // Round trip through this crate's reader.
    let info = read_adapter(&path).expect("read");
    assert_eq!(info.alpha, 16.0);
    assert_eq!(info.pairs.len(), 4);
    let back =
        load_adapter(&path, &BaseHeader::read(&base.path).expect("h"), &base.path).expect("load");
    assert_eq!(back.config.rank, 3);
    assert_eq!(back.config.targets, vec![Projection::Q, Projection::Down]);
    for (x, y) in w.pairs.iter().zip(&back.pairs) {
        assert_eq!(x.base_name(), y.base_name());
        let d = (x.b.as_tensor() - y.b.as_tensor()).expect("sub");
        assert_eq!(
            d.abs()
                .expect("abs")
                .max_all()
                .expect("max")
                .to_scalar::<f32>()
                .ok(),
            Some(0.0)
        );
    }
}

#[test]
fn an_adapter_for_another_base_is_a_located_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let small = tiny_base(&dir, "small.gguf", &LLAMA);
    let wide_shape = Shape {
        n_embd: 32,
        ..LLAMA
    };
    let wide = tiny_base(&dir, "wide.gguf", &wide_shape);
    let qwen = tiny_base(&dir, "qwen.gguf", &QWEN2);
    let path = dir.path().join("for-small.gguf");
    write_adapter(&path, &lora_for(&small, 2), Arch::Llama, &[]).expect("write");
    let info = read_adapter(&path).expect("read");

    let e = info
        .check_against(&path, &BaseHeader::read(&wide.path).expect("h"), &wide.path)
        .expect_err("width differs");
    let msg = e.to_string();
    assert!(
        msg.contains("for-small.gguf") && msg.contains("wide.gguf") && msg.contains("blk.0"),
        "{msg}"
    );
    let e = info
        .check_against(&path, &BaseHeader::read(&qwen.path).expect("h"), &qwen.path)
        .expect_err("architecture differs");
    assert!(
        e.to_string().contains("'llama'") && e.to_string().contains("'qwen2'"),
        "{e}"
    );

    // The engine's check names the file and the tensor too.
    let wide_header = rightfit_llama::gguf::read_header(&wide.path).expect("h");
    let e = rightfit_llama::engine::check_adapter(&path, &wide_header).expect_err("other base");
    assert!(e.to_string().contains("for-small.gguf"), "{e}");

    // A model file is not an adapter.
    let e = read_adapter(&small.path).expect_err("not an adapter");
    assert!(e.to_string().contains("not an adapter"), "{e}");
    // Nor is a file that is not GGUF at all.
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"not a gguf file at all").expect("write");
    let e = read_adapter(&junk).expect_err("junk");
    assert!(e.to_string().contains("junk.gguf"), "{e}");
}

/// `rightfit models add FILE --base MODEL`: an adapter trained elsewhere becomes a model that
/// resolves to its base with the adapter applied; one that does not fit is refused before
/// anything is recorded.
#[test]
fn an_adapter_is_added_on_its_base_and_checked_first() {
    use rightfit_llama::models::{ModelStore, ModelStoreError};
    use rightfit_types::progress::Quiet;

    let dir = tempfile::tempdir().expect("tempdir");
    let small = tiny_base(&dir, "small.gguf", &LLAMA);
    let wide = tiny_base(
        &dir,
        "wide.gguf",
        &Shape {
            n_embd: 32,
            ..LLAMA
        },
    );
    let adapter = dir.path().join("for-small.gguf");
    write_adapter(&adapter, &lora_for(&small, 2), Arch::Llama, &[]).expect("write");
    let store = ModelStore::new(dir.path().join("models"));
    store
        .add(&small.path, Some("small"), false, &Quiet)
        .expect("a model");
    store
        .add(&wide.path, Some("wide"), false, &Quiet)
        .expect("a model");

    // Without --base an adapter is not a model.
    let e = store
        .add(&adapter, Some("tuned"), false, &Quiet)
        .expect_err("an adapter needs its base");
    assert!(matches!(e, ModelStoreError::Adapter(_)), "{e}");
    assert!(e.to_string().contains("--base"), "{e}");
    // On a base of another width: refused, naming the tensor, and nothing recorded.
    let e = store
        .add_adapter(&adapter, "wide", Some("tuned"), false, &Quiet)
        .expect_err("another base");
    assert!(
        e.to_string().contains("'wide'") && e.to_string().contains("blk.0"),
        "{e}"
    );
    assert!(store.resolve("tuned").is_err(), "nothing was recorded");
    // A model file given as an adapter.
    let e = store
        .add_adapter(&wide.path, "small", Some("x"), false, &Quiet)
        .expect_err("not an adapter");
    assert!(e.to_string().contains("not a LoRA adapter"), "{e}");

    let m = store
        .add_adapter(&adapter, "small", Some("tuned"), false, &Quiet)
        .expect("fits its base");
    assert_eq!(m.base.as_deref(), Some("small"));
    let r = store.resolve("tuned").expect("resolves");
    assert_eq!(r.name, "tuned");
    assert_eq!(
        std::fs::canonicalize(&r.path).expect("base"),
        std::fs::canonicalize(&small.path).expect("base")
    );
    assert_eq!(
        r.adapter
            .as_deref()
            .map(|p| std::fs::canonicalize(p).expect("adapter")),
        Some(std::fs::canonicalize(&adapter).expect("adapter"))
    );
    let listed = store.list().expect("list");
    let tuned = listed.iter().find(|m| m.name == "tuned").expect("listed");
    assert_eq!(tuned.base.as_deref(), Some("small"));
    assert!(store.resolve("small").expect("base").adapter.is_none());
    // An adapter is not a base.
    let e = store
        .add_adapter(&adapter, "tuned", Some("twice"), false, &Quiet)
        .expect_err("an adapter on an adapter");
    assert!(e.to_string().contains("itself an adapter"), "{e}");
}
