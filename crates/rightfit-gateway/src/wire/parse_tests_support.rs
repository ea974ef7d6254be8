//! What the OpenAI and Anthropic parse tests share: a body that must be accepted, and one that
//! must be refused as an invalid request (400), with the refusal's param and message.

use serde_json::Value;

use super::GatewayRequest;
use crate::error::{ErrorKind, GatewayError};

/// One API's `parse`.
pub(crate) type Parse = fn(&[u8]) -> Result<GatewayRequest, GatewayError>;

/// The request `parse` makes of `body`; panics when it is refused.
pub(crate) fn accepted(parse: Parse, body: &Value) -> GatewayRequest {
    match parse(body.to_string().as_bytes()) {
        Ok(request) => request,
        Err(e) => panic!("{body} was refused: {e:?}"),
    }
}

/// The param and message of `parse`'s refusal of `body`, which must be an invalid request
/// (400); panics when it is accepted.
pub(crate) fn refused(parse: Parse, body: &Value) -> (Option<String>, String) {
    match parse(body.to_string().as_bytes()) {
        Ok(request) => panic!("{body} was accepted: {request:?}"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e:?}");
            assert_eq!(e.status().as_u16(), 400);
            (e.param().map(str::to_owned), e.message().to_owned())
        }
    }
}
