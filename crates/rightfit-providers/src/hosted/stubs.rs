//! TEMPORARY: placeholders until the codecs land (deleted at merge).
#![allow(unused_variables)]
use super::codec::*;
use rightfit_config::Secret;
use rightfit_types::ChatRequest;
macro_rules! stub {
    ($t:ty) => {
        impl Codec for $t {
            fn kind(&self) -> &'static str {
                todo!()
            }
            fn chat_url(&self, base_url: &str, model: &str, stream: bool) -> String {
                todo!()
            }
            fn headers(&self, key: Option<&Secret>) -> Vec<(&'static str, String)> {
                todo!()
            }
            fn chat_body(
                &self,
                model: &str,
                request: &ChatRequest,
                stream: bool,
            ) -> Result<serde_json::Value, String> {
                todo!()
            }
            fn parse_chat(&self, body: serde_json::Value) -> Result<Parsed, String> {
                todo!()
            }
            fn decoder(&self, n: u32) -> Box<dyn Decoder> {
                todo!()
            }
            fn error_body(&self, body: &[u8]) -> Option<ErrorBody> {
                todo!()
            }
        }
    };
}
stub!(super::anthropic::Anthropic);
stub!(super::gemini::Gemini);
