//! `digits web [RUN_DIR] [--out DIR] [--serve [--port P]]`: the run as a static web page that
//! reads handwriting in the browser — digits' own network compiled to WebAssembly — beside
//! the training page, where a network learns in the browser (without a run, the training page
//! alone), and, with `--serve`, a server for it on 127.0.0.1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::inspect::trained_run::load_run;
use crate::interop::serve;
use crate::interop::site::{MODULE_FILE, SiteRun, is_site_or_empty, write_site};
use crate::run::folder::{self as run, RunFolder};

#[derive(Args)]
pub struct WebArgs {
    /// A run folder written by `digits train` (or `import`); without one, the site is the
    /// training page alone (then --out is needed).
    run_dir: Option<PathBuf>,
    /// Where to write the site (default: RUN_DIR/web).
    #[arg(long, value_name = "DIR", required_unless_present = "run_dir")]
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
    let loaded = match &args.run_dir {
        Some(dir) => {
            RunFolder::existing(dir, "web RUN_DIR")?;
            // The weights must fit the run's network before a page is made of them.
            let device = Backend::select(None)?.device()?;
            Some(load_run(dir, &device)?)
        }
        None => None,
    };
    let out = match (&args.out, &args.run_dir) {
        (Some(out), _) => out.clone(),
        (None, Some(dir)) => dir.join("web"),
        (None, None) => {
            return Err(Error::Usage(
                "web needs a run folder (RUN_DIR) or, for the training page alone, --out DIR"
                    .into(),
            ));
        }
    };
    if !args.force && !is_site_or_empty(&out) {
        return Err(Error::Usage(format!(
            "--out {} holds files and no site ({MODULE_FILE}); choose an empty or new folder, \
             or add --force to write the site among them",
            out.display()
        )));
    }
    // Bind first: a port in use is an error before minutes of building.
    let server = args.serve.then(|| serve::bind(args.port)).transpose()?;
    let run = loaded.as_ref().map(|loaded| SiteRun {
        dir: &loaded.dir,
        config: &loaded.config,
    });
    let files = write_site(run, &out)?;
    let kib = |bytes: u64| bytes as f64 / 1024.0;
    let what = match &args.run_dir {
        Some(dir) => format!("the site of {}", dir.display()),
        None => "the training page".to_string(),
    };
    println!(
        "wrote {what} in {}: {:.0} KiB in all (the module {:.0} KiB, the weights {:.0} KiB)",
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
            args.run_dir
                .as_ref()
                .map_or(format!("--out {}", out.display()), |d| d
                    .display()
                    .to_string())
        ),
    }
    Ok(ExitCode::SUCCESS)
}
