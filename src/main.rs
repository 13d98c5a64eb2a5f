use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use urbanstream::config::{load_standard, Settings};
use urbanstream::server::ServerBuilder;
use urbanstream::simulate;
use urbanstream_actors::teltonika::codec::CodecId;
use urbanstream_schema::redact::redact;

mod offline_cli;

/// Many small, short-lived allocations per message (frames, JSON, rows) cross threads;
/// mimalloc keeps them off glibc malloc's shared arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// urbanstream: live telemetry from a city's vehicles, cameras and robots.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file layered over the defaults (see config/default.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Create or update the database schema (`database.url`) and exit.
    Migrate,
    /// Decode a Teltonika login, TCP frame(s) or UDP datagram given in hex, and print JSON.
    Decode(DecodeArgs),
    /// Manage API users (the password is read from standard input, or asked for).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Drive simulated devices against a running server.
    Simulate {
        #[command(subcommand)]
        source: SimulateSource,
    },
    /// Serve a living city with no hardware: routes, stops and rules around Banja Luka, with
    /// simulated buses, edge nodes and robots running against this server.
    Demo(DemoArgs),
    /// Track people in one camera's detections (or video) and write MOTChallenge results.
    Track(offline_cli::TrackArgs),
    /// Track people across a multi-camera scene's files: global ids and floor positions.
    Mtmc(offline_cli::MtmcArgs),
}

#[derive(Args)]
struct DemoArgs {
    /// Simulated buses (Teltonika trackers over TCP).
    #[arg(long, default_value_t = 30)]
    buses: usize,
    /// Simulated edge nodes (MQTT, through the embedded broker); 0: none.
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    /// Simulated hoist robots (Modbus TCP); 0: none.
    #[arg(long, default_value_t = 4)]
    robots: u8,
    /// Where the demo keeps its data (its own file, apart from `serve`'s).
    #[arg(long, default_value = "sqlite://data/demo.db")]
    database: String,
}

#[derive(Args)]
struct DecodeArgs {
    /// The bytes as hex (spaces allowed).
    #[arg(long, conflicts_with = "file")]
    hex: Option<String>,
    /// A file holding the bytes: raw binary, or hex text.
    #[arg(long)]
    file: Option<PathBuf>,
    /// IO profile naming the IO elements (default: teltonika.default_profile).
    #[arg(long)]
    profile: Option<String>,
    /// `-` reads hex from standard input (also the default when neither --hex nor --file is given).
    #[arg(value_name = "-")]
    stdin: Option<String>,
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user.
    Add {
        #[arg(long)]
        username: String,
        /// ADMIN, DISPATCHER, OPERATOR, ANALYST or VIEWER.
        #[arg(long)]
        role: String,
    },
    /// Set a user's password (the user's sessions end).
    Passwd {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum SimulateSource {
    /// Teltonika trackers on buses around Banja Luka, over real TCP.
    Teltonika(SimTeltonika),
    /// Edge AI nodes over MQTT: births, heartbeats, metrics, detections, consensus rounds.
    Edge(SimEdge),
    /// Overhead hoist robots: a Modbus server (TCP, or RTU on a serial device) with one unit
    /// per robot on the `oht50-v1` register map.
    Robots(SimRobots),
    /// Dispatchers' dashboards on WebSocket: each subscribes to `fleet` (in a viewport) and
    /// `alerts` and times every push from the server's receipt of the record.
    Ws(SimWs),
}

#[derive(Args)]
struct SimWs {
    /// Number of WebSocket clients.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// The server's WebSocket endpoint.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// An access token (`POST /api/v1/auth/login`); every client signs in with it.
    #[arg(long, env = "URBANSTREAM_TOKEN")]
    token: Option<String>,
    /// How long the clients read, e.g. 60s.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Side of each client's square viewport in metres, placed along the simulated bus
    /// lines; 0: no viewport (every vehicle).
    #[arg(long, default_value_t = 300.0)]
    viewport_m: f64,
    /// Batched telemetry every this many milliseconds, as the dashboard asks (200); 0: each
    /// update at once.
    #[arg(long, default_value_t = 0)]
    batch_ms: u64,
    /// Of the clients, this many subscribe and then stop reading (the server should cut
    /// them off).
    #[arg(long, default_value_t = 0)]
    stalled: usize,
    /// Print the summary as one JSON object on the last line of stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SimRobots {
    /// Number of robots: units 1..=N.
    #[arg(long, default_value_t = 8)]
    robots: u8,
    /// Serve Modbus TCP here.
    #[arg(long, conflicts_with = "serial")]
    listen: Option<std::net::SocketAddr>,
    /// Serve Modbus RTU on this serial device (e.g. one end of a socat pty pair).
    #[arg(long)]
    serial: Option<String>,
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// Faults and scanner violations per robot per hour.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Stop after this long; default: run until interrupted.
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
}

#[derive(Args)]
struct SimEdge {
    /// Number of nodes, each on its own MQTT connection.
    #[arg(long, default_value_t = 10)]
    nodes: usize,
    /// Detection messages per second per node.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Detections in each message.
    #[arg(long, default_value_t = 3)]
    detections: usize,
    /// How long to publish, e.g. 30s, 5m.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// The MQTT broker (the server's embedded one, or the broker it subscribes at).
    #[arg(long, default_value = "127.0.0.1:1883")]
    broker: String,
    /// Node ids are this prefix and a number.
    #[arg(long, default_value = "sim-node-")]
    prefix: String,
    /// How often each node sends a heartbeat.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    heartbeat_every: Duration,
    /// Each minute, one node in this many drops off (last will) and comes back; 0: never.
    #[arg(long, default_value_t = 20)]
    drop_one_in: usize,
    /// Also measure publish → WebSocket push latency with a client on this URL (with its
    /// token), e.g. ws://127.0.0.1:8080/ws?token=…
    #[arg(long)]
    ws: Option<String>,
    /// The server's database URL: count the detections stored.
    #[arg(long)]
    database: Option<String>,
    /// Connect with username = node id and password = this API key (production broker).
    #[arg(long, env = "URBANSTREAM_NODE_KEY")]
    api_key: Option<String>,
    /// Print the summary as one JSON object on the last line of stdout.
    #[arg(long)]
    json: bool,
    /// No live progress on stderr.
    #[arg(long)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum CodecArg {
    #[value(name = "8")]
    C8,
    #[value(name = "8e")]
    C8e,
    #[value(name = "16")]
    C16,
}

#[derive(Args)]
struct SimTeltonika {
    /// Number of devices, each on its own TCP connection.
    #[arg(long, default_value_t = 10)]
    devices: usize,
    /// Records per second per device; 0: log in and stay connected, idle.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// How long to generate records, e.g. 30s, 5m.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:5000")]
    target: String,
    #[arg(long, value_enum, default_value = "8e")]
    codec: CodecArg,
    /// IMEI of the first device; the others follow.
    #[arg(long, default_value_t = 350_000_000_000_000)]
    imei_base: u64,
    /// How often each device sends what it has buffered.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    send_interval: Duration,
    /// Most records in one frame.
    #[arg(long, default_value_t = 50)]
    max_records_per_frame: usize,
    /// How long a device waits for an ACK before it reconnects and resends.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    ack_timeout: Duration,
    /// Also measure frame → WebSocket push latency with a client on this URL, e.g.
    /// ws://127.0.0.1:8080/ws.
    #[arg(long)]
    ws: Option<String>,
    /// Connect from this many loopback addresses (127.0.0.1, .2, …), each with its own
    /// ephemeral ports; 0: as many as the devices need (20,000 each) on a loopback target.
    #[arg(long, default_value_t = 0)]
    sources: usize,
    /// Print the summary as one JSON object on the last line of stdout.
    #[arg(long)]
    json: bool,
    /// No live progress on stderr.
    #[arg(long)]
    quiet: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config),
        Command::Migrate => migrate(cli.config),
        Command::User { action } => user(action, cli.config),
        Command::Decode(args) => return decode(args, cli.config),
        Command::Simulate {
            source: SimulateSource::Teltonika(args),
        } => simulate_teltonika(args),
        Command::Simulate {
            source: SimulateSource::Edge(args),
        } => simulate_edge(args),
        Command::Simulate {
            source: SimulateSource::Robots(args),
        } => simulate_robots(args),
        Command::Simulate {
            source: SimulateSource::Ws(args),
        } => simulate_ws(args),
        Command::Demo(args) => demo(args, cli.config),
        Command::Track(args) => offline_cli::track(args),
        Command::Mtmc(args) => offline_cli::mtmc(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Whatever the error quotes, no credential of a URL is printed.
            eprintln!(
                "error: {}",
                urbanstream_schema::redact::redact(&format!("{e:#}"))
            );
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve(config: Option<PathBuf>) -> anyhow::Result<()> {
    let settings = load_standard(config.as_deref())?;
    urbanstream::logging::init(&settings.log);
    actix_rt::System::new().block_on(async move {
        let server = ServerBuilder::new(settings).start().await?;
        tracing::info!(
            http = %server.http_addr,
            teltonika = %server.teltonika_addr,
            "urbanstream serving; Ctrl-C or SIGTERM stops it"
        );
        shutdown_signal().await;
        tracing::info!("shutting down");
        server.stop().await;
        Ok(())
    })
}

/// The demo admin's password on a fresh demo database, unless configured otherwise.
const DEMO_PASSWORD: &str = "urbanstream-demo";

fn demo(a: DemoArgs, config: Option<PathBuf>) -> anyhow::Result<()> {
    let mut settings = load_standard(config.as_deref())?;
    anyhow::ensure!(
        settings.environment != "production",
        "the demo does not run with URBANSTREAM_ENV=production"
    );
    settings.database.url = a.database;
    // Simulated devices are let in on first contact, as in development.
    settings.teltonika.register_unknown = true;
    settings.edge.register_unknown = true;
    settings.edge.authenticate = false;
    let password = settings
        .auth
        .bootstrap_admin_password
        .get_or_insert_with(|| DEMO_PASSWORD.to_owned())
        .clone();
    urbanstream::logging::init(&settings.log);
    actix_rt::System::new().block_on(async move {
        let server = ServerBuilder::new(settings).start().await?;
        let opts = urbanstream::demo::DemoOptions {
            buses: a.buses,
            nodes: a.nodes,
            robots: a.robots,
            admin_password: password.clone(),
        };
        urbanstream::demo::start(&server, &opts).await?;
        let port = server.http_addr.port();
        eprintln!(
            "urbanstream demo: open http://localhost:{port}/ and sign in as admin ({}); Ctrl-C stops it",
            if password == DEMO_PASSWORD {
                format!("password {DEMO_PASSWORD}")
            } else {
                "with auth.bootstrap_admin_password".to_owned()
            }
        );
        shutdown_signal().await;
        server.stop().await;
        Ok(())
    })
}

fn migrate(config: Option<PathBuf>) -> anyhow::Result<()> {
    let settings = load_standard(config.as_deref())?;
    urbanstream::logging::init(&settings.log);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let store = runtime
        .block_on(urbanstream_schema::store::Store::open(
            &settings.database.url,
            1,
        ))
        .with_context(|| format!("migrating {}", redact(&settings.database.url)))?;
    eprintln!(
        "database {} ({}) is up to date",
        redact(&settings.database.url),
        store.backend()
    );
    Ok(())
}

/// The password: asked twice on a terminal, else the first line of standard input.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(first == again, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn user(action: UserAction, config: Option<PathBuf>) -> anyhow::Result<()> {
    use urbanstream::auth::{accounts, Role};
    let settings = load_standard(config.as_deref())?;
    urbanstream::logging::init(&settings.log);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let store = urbanstream_schema::store::Store::open(&settings.database.url, 1)
            .await
            .with_context(|| format!("opening {}", redact(&settings.database.url)))?;
        match action {
            UserAction::Add { username, role } => {
                let role: Role = role.parse()?;
                let password = read_password()?;
                let u = accounts::add_user(&store, &username, role, &password).await?;
                eprintln!("created user `{}` ({}), id {}", u.username, u.role, u.id);
            }
            UserAction::Passwd { username } => {
                let password = read_password()?;
                accounts::set_password(&store, &username, &password).await?;
                eprintln!("password of `{username}` changed; its sessions ended");
            }
        }
        Ok(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("SIGTERM handler not installed: {e}");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn decode(args: DecodeArgs, config: Option<PathBuf>) -> std::process::ExitCode {
    match run_decode(args, config) {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_decode(args: DecodeArgs, config: Option<PathBuf>) -> anyhow::Result<Vec<String>> {
    let bytes = if let Some(h) = args.hex {
        urbanstream::decode::parse_hex(&h).map_err(anyhow::Error::msg)?
    } else if let Some(f) = args.file {
        let raw = std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
        match std::str::from_utf8(&raw) {
            Ok(text)
                if !text.trim().is_empty()
                    && text
                        .trim()
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || c.is_whitespace()) =>
            {
                urbanstream::decode::parse_hex(text).map_err(anyhow::Error::msg)?
            }
            _ => raw,
        }
    } else {
        if args.stdin.as_deref().is_some_and(|s| s != "-") {
            anyhow::bail!(
                "unexpected argument {:?}; use --hex, --file or -",
                args.stdin.unwrap_or_default()
            );
        }
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        urbanstream::decode::parse_hex(&text).map_err(anyhow::Error::msg)?
    };
    let settings = match config {
        Some(_) => load_standard(config.as_deref())?,
        None => Settings::defaults_with(&[])?,
    };
    let profiles = settings.io_profiles()?;
    let profile = match args.profile {
        Some(name) => profiles
            .by_name(&name)
            .with_context(|| format!("no IO profile named {name:?}"))?,
        None => profiles.default_profile(),
    };
    let values = urbanstream::decode::decode_all(&bytes, &profile)?;
    Ok(values.iter().map(|v| v.to_string()).collect())
}

fn simulate_robots(a: SimRobots) -> anyhow::Result<()> {
    use simulate::robots;
    anyhow::ensure!(
        a.robots >= 1 && a.robots <= 247,
        "--robots must be 1 to 247"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let fleet = robots::fleet(a.robots);
        tokio::spawn(robots::run_physics(
            fleet.clone(),
            Duration::from_millis(100),
            a.fault_rate,
        ));
        let watched = fleet.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!("{}", robots::progress(&watched));
            }
        });
        let serve = async {
            match (&a.listen, &a.serial) {
                (Some(addr), None) => {
                    let listener = tokio::net::TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("binding --listen {addr}"))?;
                    eprintln!(
                        "{} robots on Modbus TCP {} (units 1..={})",
                        a.robots,
                        listener.local_addr()?,
                        a.robots
                    );
                    robots::serve_tcp(listener, fleet.clone()).await?;
                }
                (None, Some(path)) => {
                    eprintln!(
                        "{} robots on Modbus RTU {path} at {} baud",
                        a.robots, a.baud
                    );
                    robots::serve_rtu(path, a.baud, fleet.clone()).await?;
                }
                _ => anyhow::bail!("give --listen HOST:PORT or --serial PATH"),
            }
            Ok::<_, anyhow::Error>(())
        };
        match a.duration {
            Some(d) => tokio::select! {
                r = serve => r,
                _ = tokio::time::sleep(d) => Ok(()),
            },
            None => serve.await,
        }
    })
}

fn simulate_ws(a: SimWs) -> anyhow::Result<()> {
    let url = match &a.token {
        Some(token) => {
            let sep = if a.url.contains('?') { '&' } else { '?' };
            format!("{}{sep}token={token}", a.url)
        }
        None => a.url.clone(),
    };
    let opts = simulate::dashboards::DashboardOptions {
        url,
        clients: a.clients,
        duration: a.duration,
        viewport_m: a.viewport_m,
        batch_ms: a.batch_ms,
        stalled: a.stalled,
        connect_concurrency: 64,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let s = runtime.block_on(simulate::dashboards::run(opts))?;
    eprintln!(
        "clients {} | connected {} | failed {} | dropped {} | stalled {} (cut off {}) | pushes {} ({:.0}/s, {:.1} MB/s) | push p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
        s.clients,
        s.connected,
        s.failed,
        s.dropped,
        s.stalled,
        s.stalled_cut_off,
        s.pushes,
        s.pushes_per_s,
        s.bytes_per_s / 1e6,
        s.push_p50_ms,
        s.push_p99_ms,
        s.push_max_ms
    );
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    }
    Ok(())
}

fn simulate_edge(a: SimEdge) -> anyhow::Result<()> {
    use std::net::ToSocketAddrs;
    let broker = a
        .broker
        .to_socket_addrs()
        .with_context(|| format!("resolving --broker {}", a.broker))?
        .next()
        .with_context(|| format!("--broker {} resolves to no address", a.broker))?;
    let opts = simulate::edge::EdgeOptions {
        nodes: a.nodes,
        rate: a.rate,
        detections: a.detections,
        duration: a.duration,
        broker,
        prefix: a.prefix,
        heartbeat_every: a.heartbeat_every,
        drop_one_in: a.drop_one_in,
        drain: Duration::from_secs(10),
        progress: !a.quiet,
        ws: a.ws,
        database: a.database,
        api_key: a.api_key,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let s = runtime.block_on(simulate::edge::run(opts))?;
    eprintln!(
        "nodes {} | published {} | acknowledged {} | detections acknowledged {} | stored {} | {:.0} messages/s, {:.0} detections/s | PUBACK p50 {:.2} ms p99 {:.2} ms max {:.2} ms | drops {} | errors {}",
        s.nodes,
        s.published,
        s.acknowledged,
        s.detections_acknowledged,
        s.detections_stored.map_or_else(|| "-".to_owned(), |n| n.to_string()),
        s.messages_per_s,
        s.detections_per_s,
        s.puback_p50_ms,
        s.puback_p99_ms,
        s.puback_max_ms,
        s.drops,
        s.errors
    );
    if let (Some(n), Some(p50), Some(p99)) = (s.ws_received, s.ws_p50_ms, s.ws_p99_ms) {
        eprintln!("WebSocket pushes {n} | publish → push p50 {p50:.2} ms p99 {p99:.2} ms");
    }
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    }
    Ok(())
}

fn simulate_teltonika(a: SimTeltonika) -> anyhow::Result<()> {
    use std::net::ToSocketAddrs;
    let target = a
        .target
        .to_socket_addrs()
        .with_context(|| format!("resolving --target {}", a.target))?
        .next()
        .with_context(|| format!("--target {} resolves to no address", a.target))?;
    let opts = simulate::Options {
        devices: a.devices,
        rate: a.rate,
        duration: a.duration,
        target,
        codec: match a.codec {
            CodecArg::C8 => CodecId::Codec8,
            CodecArg::C8e => CodecId::Codec8Ext,
            CodecArg::C16 => CodecId::Codec16,
        },
        imei_base: a.imei_base,
        send_interval: a.send_interval,
        max_records_per_frame: a.max_records_per_frame,
        ack_timeout: a.ack_timeout,
        progress: !a.quiet,
        ws: a.ws.clone(),
        sources: a.sources,
        ..simulate::Options::new(target)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(simulate::run(opts))?;
    let s = &report.summary;
    eprintln!(
        "devices {} | sent {} | acknowledged {} | resent {} | {:.0} records/s | ACK p50 {:.2} ms p99 {:.2} ms max {:.2} ms | rejected logins {} | errors {}",
        s.devices, s.sent, s.acked, s.resent, s.records_per_s, s.ack_p50_ms, s.ack_p99_ms, s.ack_max_ms, s.login_rejected, s.errors
    );
    if let (Some(n), Some(p50), Some(p99)) = (s.ws_received, s.ws_p50_ms, s.ws_p99_ms) {
        eprintln!("WebSocket pushes {n} | frame → push p50 {p50:.2} ms p99 {p99:.2} ms");
    }
    if a.json {
        println!("{}", serde_json::to_string(s)?);
    }
    Ok(())
}
