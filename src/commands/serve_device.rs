//! `digits serve-device`: lend this machine's device to `digits train --remote` on another.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::args::BackendArg;
use crate::error::Result;
use crate::remote::{self, ServePlan};

#[derive(Args)]
pub struct ServeDeviceArgs {
    /// The address to listen on: 127.0.0.1 (this machine only, the default; reach it through
    /// an SSH tunnel), a network address of this machine, or 0.0.0.0 (every one). Anything but
    /// loopback needs a token.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
    bind: IpAddr,
    /// The TCP port; 0 lets the system pick a free one (printed).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// A file whose first line is the token clients must give (default: $DIGITS_DEVICE_TOKEN).
    /// WebSocket is not encrypted: the token keeps others out, it does not hide the traffic.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArg,
}

pub fn run(args: ServeDeviceArgs) -> Result<ExitCode> {
    let plan = ServePlan {
        backend: args.backend.select()?,
        bind: args.bind,
        port: args.port,
        token: remote::read_token(args.token_file.as_deref())?,
    };
    remote::serve(&plan)?;
    Ok(ExitCode::SUCCESS)
}
