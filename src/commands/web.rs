//! `digits web RUN_DIR [--out DIR] [--serve [--port P]]`: the run as a static web page that
//! reads handwriting in the browser — digits' own network compiled to WebAssembly — and,
//! with `--serve`, a server for it on 127.0.0.1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::inspect::trained_run::load_run;
use crate::interop::serve;
use crate::interop::site::{MODULE_FILE, is_site_or_empty, write_site};
use crate::run::folder::{self as run, RunFolder};

#[derive(Args)]
pub struct WebArgs {
    /// A run folder written by `digits train` (or `import`).
    run_dir: PathBuf,
    /// Where to write the site (default: RUN_DIR/web).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace the files of a folder that holds something other than a site.
    #[arg(long)]
    force: bool,
    /// Then serve it on 127.0.0.1 until stopped (Ctrl-C).
    #[arg(long)]
    serve: bool,
    /// The port to serve on (0: any free one).
    #[arg(long, default_value_t = 8000, requires = "serve")]
    port: u16,
}

impl WebArgs {
    /// `--serve`: the site is served until stopped.
    pub fn serves(&self) -> bool {
        self.serve
    }
}

pub fn run(args: WebArgs) -> Result<ExitCode> {
    RunFolder::existing(&args.run_dir, "web RUN_DIR")?;
    // The weights must fit the run's network before a page is made of them.
    let device = Backend::select(None)?.device()?;
    let loaded = load_run(&args.run_dir, &device)?;
    let out = args.out.clone().unwrap_or_else(|| args.run_dir.join("web"));
    if !args.force && !is_site_or_empty(&out) {
        return Err(Error::Usage(format!(
            "--out {} holds files and no site ({MODULE_FILE}); choose an empty or new folder, \
             or add --force to write the site among them",
            out.display()
        )));
    }
    // Bind first: a port in use is an error before minutes of building.
    let server = args.serve.then(|| serve::bind(args.port)).transpose()?;
    let files = write_site(&args.run_dir, &loaded.config, &out)?;
    let kib = |bytes: u64| bytes as f64 / 1024.0;
    println!(
        "wrote the site of {} in {}: {:.0} KiB in all (the module {:.0} KiB, the weights {:.0} \
         KiB)",
        args.run_dir.display(),
        out.display(),
        kib(files.total()),
        kib(files.size_of(MODULE_FILE)),
        kib(files.size_of(run::MODEL_FILE))
    );
    match server {
        Some((server, port)) => {
            println!("serving it at http://127.0.0.1:{port}/ (Ctrl-C stops)");
            serve::serve(server, &out);
        }
        None => println!(
            "open it from any static server, e.g. `digits web {} --serve` (browsers do not \
             run a module from file://)",
            args.run_dir.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
