//! `digits web --serve`: a site folder served on 127.0.0.1, for a quick look. Only GET and
//! HEAD of the folder's own files (no subfolders, nothing outside it); anything else is a
//! 404 or 405, never an error that stops the server.

use std::path::Path;

use tiny_http::{Header, Method, Request, Response, Server};

use crate::error::{Error, Result};

/// The content type a browser needs for each of a site's files (a module must be served as
/// `application/wasm` for streaming compilation).
fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// The file of `dir` a request path names: `/` is `index.html`; a name with a separator, a
/// leading dot or `..` names nothing.
pub fn file_for(dir: &Path, url: &str) -> Option<std::path::PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        name => name,
    };
    let plain = !name.contains(['/', '\\']) && !name.starts_with('.');
    let file = dir.join(name);
    (plain && file.is_file()).then_some(file)
}

/// A server for `dir` on 127.0.0.1:`port` (0: any free port); its address.
pub fn bind(port: u16) -> Result<(Server, u16)> {
    let server = Server::http(("127.0.0.1", port)).map_err(|e| {
        Error::Environment(format!(
            "cannot serve on 127.0.0.1:{port}: {e}. Choose another port with --port (0 picks a \
             free one)"
        ))
    })?;
    let port = server.server_addr().to_ip().map_or(port, |a| a.port());
    Ok((server, port))
}

/// Threads answering requests: a client slow to read a large file (the training page's
/// sample, the module) holds one of them, not the whole server.
const SERVING_THREADS: usize = 4;

/// Answers requests for `dir`'s files until the process is stopped.
pub fn serve(server: Server, dir: &Path) {
    std::thread::scope(|scope| {
        for _ in 0..SERVING_THREADS {
            scope.spawn(|| {
                while let Ok(request) = server.recv() {
                    answer(request, dir);
                }
            });
        }
    });
}

fn answer(request: Request, dir: &Path) {
    if !matches!(request.method(), Method::Get | Method::Head) {
        let _ = request.respond(Response::from_string("method not allowed").with_status_code(405));
        return;
    }
    let Some(file) = file_for(dir, request.url()) else {
        let _ = request.respond(Response::from_string("not found").with_status_code(404));
        return;
    };
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let header = Header::from_bytes("Content-Type", content_type(name)).expect("a valid header");
    match std::fs::File::open(&file) {
        // tiny_http leaves the body out of a HEAD response itself.
        Ok(body) => {
            let _ = request.respond(Response::from_file(body).with_header(header));
        }
        Err(_) => {
            let _ = request.respond(Response::from_string("not found").with_status_code(404));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_folders_own_files_are_served() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "page").unwrap();
        std::fs::write(dir.path().join("app.js"), "script").unwrap();
        std::fs::write(dir.path().join(".hidden"), "no").unwrap();
        let served =
            |url: &str| file_for(dir.path(), url).map(|f| f.file_name().unwrap().to_owned());
        assert_eq!(served("/"), Some("index.html".into()));
        assert_eq!(served("/app.js?v=1"), Some("app.js".into()));
        for refused in [
            "/../etc/passwd",
            "/..",
            "/.hidden",
            "/sub/app.js",
            "/missing.js",
            "/%2e%2e",
        ] {
            assert_eq!(served(refused), None, "{refused}");
        }
        assert_eq!(content_type("digits_web_bg.wasm"), "application/wasm");
    }
}
