//! A device on another machine, through Burn's remote backend over WebSocket (cargo feature
//! `remote`): `digits serve-device` serves this machine's device, `train --remote
//! ws://HOST:PORT` trains on one. Beside `backend.rs`, the only other place a Device is built.
//!
//! The server asks for a token, unless it listens on loopback only. WebSocket is not
//! encrypted: the token keeps stray clients out of a trusted network, it does not hide the
//! traffic (use an SSH tunnel or a private network for that).

use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::tensor::Device;

use crate::backend::Backend;
use crate::error::{Error, Result};

/// The environment variable a token is read from when no `--token-file` is given.
pub const TOKEN_ENV: &str = "DIGITS_DEVICE_TOKEN";

/// A token file longer than this is not a token.
const MAX_TOKEN_BYTES: u64 = 4096;

/// A shared secret between `serve-device` and `train --remote`, and where it came from.
#[derive(Clone)]
pub struct Token {
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    value: String,
    /// For messages: `--token-file PATH` or `$DIGITS_DEVICE_TOKEN`.
    pub source: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(from {})", self.source)
    }
}

/// The token in `file` (its first line, trimmed) if given, else `$DIGITS_DEVICE_TOKEN` if set,
/// else none.
pub fn read_token(file: Option<&Path>) -> Result<Option<Token>> {
    let Some(path) = file else {
        return Ok(std::env::var(TOKEN_ENV)
            .ok()
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
            .map(|value| Token {
                value,
                source: format!("${TOKEN_ENV}"),
            }));
    };
    let source = format!("--token-file {}", path.display());
    // Read at most one byte past the limit: a named pipe or /dev/zero has no size to check.
    let mut text = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_TOKEN_BYTES + 1).read_to_end(&mut text))
        .map_err(|e| Error::io("cannot read the token file", path, e))?;
    if text.len() as u64 > MAX_TOKEN_BYTES {
        return Err(Error::Usage(format!(
            "{source}: the file holds more than {MAX_TOKEN_BYTES} bytes; a token is one line \
             (e.g. `openssl rand -hex 32 > token`)"
        )));
    }
    let value = String::from_utf8_lossy(&text)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if value.is_empty() {
        return Err(Error::Usage(format!(
            "{source}: the file is empty; write a token in it (e.g. `openssl rand -hex 32 > \
             token`) and give the same file to serve-device and train --remote"
        )));
    }
    Ok(Some(Token { value, source }))
}

/// A `serve-device` server and how the client reaches it.
#[derive(Debug, Clone)]
pub struct RemoteTarget {
    /// `ws://HOST:PORT`.
    pub url: String,
    pub token: Option<Token>,
}

impl RemoteTarget {
    /// Checks the address's form; nothing is connected yet.
    pub fn new(url: &str, token: Option<Token>) -> Result<RemoteTarget> {
        let rest = url.strip_prefix("ws://").ok_or_else(|| {
            Error::Usage(format!(
                "--remote {url}: give the address `digits serve-device` prints, \
                 ws://HOST:PORT (WebSocket; wss:// is not supported: tunnel it over SSH)"
            ))
        })?;
        if rest.is_empty() || !rest.contains(':') {
            return Err(Error::Usage(format!(
                "--remote {url}: the address needs a host and a port, e.g. ws://gpu-box:3000"
            )));
        }
        Ok(RemoteTarget {
            url: url.to_string(),
            token,
        })
    }

    /// `count` devices of the server (it serves one unless it says otherwise), connected.
    pub fn devices(&self, count: usize) -> Result<Vec<Device>> {
        (0..count).map(|index| self.connect(index)).collect()
    }

    #[cfg(feature = "remote")]
    fn connect(&self, index: usize) -> Result<Device> {
        use burn::tensor::remote::{ConnectError, RemoteHost};
        let mut host = RemoteHost::websocket(&self.url);
        if let Some(token) = &self.token {
            host = host.with_credential(token.value.as_str());
        }
        // Only the host's description crosses the boundary, and it is dropped after.
        let connect = || Device::remote_options(&host).device_index(index).init();
        let connected = crate::error::catch_quietly(std::panic::AssertUnwindSafe(connect))
            .map_err(|panic| Error::Environment(format!("--remote {}: {panic}", self.url)))?;
        connected.map_err(|error| {
            let url = &self.url;
            Error::Environment(match error {
                ConnectError::Unauthorized => match &self.token {
                    Some(token) => format!(
                        "--remote {url}: the server refused the token from {}. Give the \
                         token the server was started with",
                        token.source
                    ),
                    None => format!(
                        "--remote {url}: the server asks for a token and none was given: pass \
                         --token-file FILE or set ${TOKEN_ENV}"
                    ),
                },
                ConnectError::NoSuchDevice { device_count } => format!(
                    "--remote {url}: training.devices asks for device {index}, and the server \
                     serves {device_count}. Use training.devices = {device_count} or fewer"
                ),
                ConnectError::Unreachable { reason } => format!(
                    "--remote {url}: nothing answers there ({reason}). Start the server on \
                     that machine with `digits serve-device --bind ADDRESS --port PORT`, and \
                     check the address and the port"
                ),
                other => format!("--remote {url}: {other}"),
            })
        })
    }

    #[cfg(not(feature = "remote"))]
    fn connect(&self, _index: usize) -> Result<Device> {
        Err(without_remote("--remote"))
    }
}

#[cfg(not(feature = "remote"))]
fn without_remote(what: &str) -> Error {
    Error::Usage(format!(
        "{what}: this binary was built without remote devices. Rebuild with `--features \
         remote`, e.g. `cargo run --release --features remote -- ...`"
    ))
}

/// What `serve-device` serves, where, and to whom.
#[derive(Debug, Clone)]
pub struct ServePlan {
    pub backend: Backend,
    pub bind: IpAddr,
    pub port: u16,
    pub token: Option<Token>,
}

/// Serves `plan.backend`'s device until Ctrl-C or SIGTERM. Prints the address to dial once
/// listening (a port of 0 is chosen by the system, and printed).
pub fn serve(plan: &ServePlan) -> Result<()> {
    if plan.token.is_none() && !plan.bind.is_loopback() {
        return Err(Error::Usage(format!(
            "serve-device --bind {}: without a token anyone who can reach this machine could \
             run work on it. Give one with --token-file FILE or ${TOKEN_ENV} (e.g. `openssl \
             rand -hex 32 > token`), or bind to 127.0.0.1 and reach it through an SSH tunnel",
            plan.bind
        )));
    }
    serve_checked(plan)
}

#[cfg(feature = "remote")]
fn serve_checked(plan: &ServePlan) -> Result<()> {
    use burn::tensor::server::{RemoteServer, TokenAuthorizer, WebSocketTransport};
    let device = plan.backend.device()?;
    let mut server = RemoteServer::new([device]);
    if let Some(token) = &plan.token {
        let authorizer = TokenAuthorizer::new(token.value.as_str())
            .map_err(|_| Error::Usage(format!("{}: the token is empty", token.source)))?;
        server = server.with_authorizer(authorizer);
    }
    let listener = std::net::TcpListener::bind((plan.bind, plan.port)).map_err(|e| {
        Error::Environment(format!(
            "serve-device --bind {} --port {}: cannot listen there ({e}). Pick a free port, \
             or an address of this machine",
            plan.bind, plan.port
        ))
    })?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::Environment(format!("serve-device: {e}")))?;
    let guard = match &plan.token {
        Some(token) => format!("clients must give the token from {}", token.source),
        None => "no token: loopback only".to_string(),
    };
    crate::report::line(&format!(
        "digits serve-device: serving {} on ws://{address} ({guard}); Ctrl-C stops",
        plan.backend
    ));
    server
        .serve(WebSocketTransport::from_listener(listener))
        .map_err(|e| Error::Environment(format!("serve-device on ws://{address}: {e}")))
}

#[cfg(not(feature = "remote"))]
fn serve_checked(_plan: &ServePlan) -> Result<()> {
    Err(without_remote("serve-device"))
}

/// The remote training in progress, for the panic hook: Burn's client panics inside tensor
/// operations, on whichever thread, when its server goes away.
static SESSION: Mutex<Option<(String, PathBuf)>> = Mutex::new(None);

/// Marks this process as training in `run` on the server at `url`.
pub fn training_on(url: &str, run: &Path) {
    if let Ok(mut session) = SESSION.lock() {
        *session = Some((url.to_string(), run.to_path_buf()));
    }
}

/// For a panic while training on a remote device: what to tell the user. `None` when no
/// remote training is under way, or the panic is not the remote client's (then it is a bug).
pub fn lost_server(panic: &str) -> Option<String> {
    let (url, run) = SESSION.lock().ok()?.clone()?;
    let remote = [
        "Service call failed",
        "Remote response channel",
        "remote",
        "Remote",
    ];
    if !remote.iter().any(|needle| panic.contains(needle)) {
        return None;
    }
    Some(server_gone(&url, &run))
}

/// The message for a training on the server at `url`, in `run`, that lost its server: Burn's
/// client panics, or its metrics fail to read their tensors (their texts say no more).
pub fn server_gone(url: &str, run: &Path) -> String {
    format!(
        "the remote device at {url} stopped answering during training: the connection to the \
         server was lost. Checkpoints of the epochs already finished are in {}: once the \
         server is back, continue with `{} train --resume {} --remote {url}` (or without \
         --remote, on this machine)",
        run.display(),
        crate::error::digits_command(),
        run.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_must_be_websocket_with_a_port() {
        assert!(RemoteTarget::new("ws://127.0.0.1:3000", None).is_ok());
        for bad in ["http://gpu:3000", "gpu:3000", "ws://", "ws://gpu"] {
            let error = RemoteTarget::new(bad, None).unwrap_err();
            assert!(error.to_string().contains("--remote"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_token_file_gives_its_first_line_and_refuses_empty_or_huge_files() {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("token");
        std::fs::write(&file, "  s3cret \nignored\n").unwrap();
        let token = read_token(Some(&file)).unwrap().unwrap();
        assert_eq!(token.value, "s3cret");
        std::fs::write(&file, "\n").unwrap();
        assert!(read_token(Some(&file)).is_err());
        std::fs::write(&file, vec![b'a'; 5000]).unwrap();
        assert!(read_token(Some(&file)).is_err());
        // Endless, and no size to check beforehand: read up to the limit, then refused.
        #[cfg(target_os = "linux")]
        assert!(read_token(Some(Path::new("/dev/zero"))).is_err());
    }

    #[test]
    fn a_server_on_the_network_without_a_token_is_refused() {
        let plan = ServePlan {
            backend: Backend::select(None).unwrap(),
            bind: "0.0.0.0".parse().unwrap(),
            port: 0,
            token: None,
        };
        let error = serve(&plan).unwrap_err();
        assert!(error.to_string().contains("--token-file"), "{error}");
    }
}
