//! What `rightfit serve` says on stderr when the gateway is listening.

use std::net::SocketAddr;
use std::path::Path;

use rightfit_config::project::GatewayAuth;

/// The banner: where the gateway listens, what it serves, whether it wants keys (and how many
/// are active), where traffic goes, and how to stop or reload it.
pub fn serve_banner(
    bound: SocketAddr,
    components: &[String],
    models: &[String],
    auth: GatewayAuth,
    live_keys: usize,
    traffic: &Path,
) -> String {
    let list = |names: &[String]| {
        if names.is_empty() {
            "(none)".to_owned()
        } else {
            names.join(", ")
        }
    };
    let keys = match auth {
        GatewayAuth::Keys if live_keys == 0 => {
            "required, and none exist yet: make one with 'rightfit keys create --name NAME'"
                .to_owned()
        }
        GatewayAuth::Keys => format!("required ({live_keys} active)"),
        GatewayAuth::None => "not required (auth = \"none\")".to_owned(),
    };
    format!(
        "rightfit gateway on http://{bound}/v1 (OpenAI and Anthropic APIs)\n\
         \x20 components: {}\n\
         \x20 models:     {}\n\
         \x20 keys:       {keys}\n\
         \x20 traffic:    {}\n\
         \x20 metrics:    http://{bound}/metrics   health: http://{bound}/health\n\
         Ctrl-C stops (answers in flight finish, the traffic log is drained); SIGHUP reloads.",
        list(components),
        list(models),
        traffic.display()
    )
}
