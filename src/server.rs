//! The composition root of `serve`: actors, listeners and the HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;
use urbanstream_actors::arbiters::ArbiterPool;
use urbanstream_actors::commands::CommandDispatcherActor;
use urbanstream_actors::db_batcher::DbBatcherActor;
use urbanstream_actors::edge::{EdgeNodeFactory, EdgeSettings};
use urbanstream_actors::entity::EntityUpdate;
use urbanstream_actors::geo::{geojson, SharedFences};
use urbanstream_actors::hub::{AttachEngine, AttachRedis, HubActor, HubSettings};
use urbanstream_actors::modbus::{BusContext, ModbusManagerActor, ModbusSettings};
use urbanstream_actors::mqtt::{broker, client, ClientSettings, Connected};
use urbanstream_actors::notify::NotifierActor;
use urbanstream_actors::redis_bridge::{RedisBridgeActor, RedisSettings};
use urbanstream_actors::registry::{
    DeviceRegistryActor, Directory, RegistrySettings, Shutdown, WatchConnections,
};
use urbanstream_actors::robot::{RobotFactory, RobotSettings, RobotTuning};
use urbanstream_actors::rules::{AlertSinks, RuleEngineActor, RuleEngineSettings};
use urbanstream_actors::system::{SystemSettings, SystemStatsActor, SystemView};
use urbanstream_actors::teltonika::{
    run_tcp_listener, run_tls_listener, run_udp_listener, ListenerContext,
};
use urbanstream_actors::transit::{RouteIndex, SharedRoutes};
use urbanstream_actors::vehicle::{ProfileOf, TrackerFactory, TrackerSettings};
use urbanstream_schema::store::{Store, DAY_MS};

use crate::auth::AuthService;
use crate::config::Settings;
use crate::http::system::{EdgeState, MqttStatus};
use crate::http::{self, HttpState};

/// Builds a server; `downstream` recipients receive every entity update.
pub struct ServerBuilder {
    settings: Settings,
    downstream: Vec<Recipient<EntityUpdate>>,
}

/// A running server. Dropping it does not stop it; call [`Server::stop`].
pub struct Server {
    pub http_addr: SocketAddr,
    pub teltonika_addr: SocketAddr,
    pub udp_addr: Option<SocketAddr>,
    /// The embedded MQTT broker's address, when it runs.
    pub mqtt_addr: Option<SocketAddr>,
    /// The TLS listeners' addresses, when configured.
    pub mqtt_tls_addr: Option<SocketAddr>,
    pub teltonika_tls_addr: Option<SocketAddr>,
    /// The latest system metrics.
    pub system: SystemView,
    pub registry: Addr<DeviceRegistryActor>,
    /// The running entities' published snapshots.
    pub directory: Directory,
    pub store: Store,
    pub batcher: Addr<DbBatcherActor>,
    pub hub: Addr<HubActor>,
    /// The command ledger.
    pub commands: Addr<CommandDispatcherActor>,
    pub auth: Arc<AuthService>,
    http: actix_web::dev::ServerHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pool: ArbiterPool,
}

impl ServerBuilder {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            downstream: Vec::new(),
        }
    }

    pub fn downstream(mut self, r: Recipient<EntityUpdate>) -> Self {
        self.downstream.push(r);
        self
    }

    /// Binds every listener and starts the actors. Must run inside an actix system.
    pub async fn start(self) -> anyhow::Result<Server> {
        let s = self.settings;
        let prometheus = crate::metrics::install()?;
        let profiles = s.io_profiles()?;
        let store = Store::open(&s.database.url, s.database.pool_size)
            .await
            .with_context(|| {
                format!(
                    "opening database.url {}",
                    urbanstream_schema::redact::redact(&s.database.url)
                )
            })?;
        tracing::info!(
            backend = store.backend(),
            "database ready, migrations applied"
        );
        let pool = ArbiterPool::per_core();

        let batcher_store = store.clone();
        let batcher_settings = s.db.batcher();
        let batcher = Supervisor::start_in_arbiter(&pool.dedicated(), move |_| {
            DbBatcherActor::new(batcher_store, batcher_settings)
        });

        // The hub gets a thread of its own: every live update crosses it.
        let hub = Supervisor::start_in_arbiter(&pool.dedicated(), |_| {
            HubActor::new(HubSettings::default())
        });
        let redis_bridge = if let Some(url) = &s.redis.url {
            let redis = RedisSettings {
                url: url.clone(),
                prefix: s.redis.prefix.clone(),
                latest_ttl: s.redis.latest_ttl,
                node_id: format!("{:016x}", rand::random::<u64>()),
                max_in_flight: 10_000,
                ca_file: s.redis.ca_file.clone(),
                client_tls: s.redis.client_tls.clone(),
            };
            tracing::info!(node = %redis.node_id, "live updates shared through Redis");
            let to_hub = hub.clone().recipient();
            let bridge = Supervisor::start(move |_| RedisBridgeActor::new(redis, to_hub));
            hub.do_send(AttachRedis(bridge.clone().recipient()));
            Some(bridge)
        } else {
            None
        };
        let mut downstream = self.downstream;
        downstream.push(hub.clone().recipient());

        let fences = SharedFences::default();
        let fence_rows = store.geofences().await?;
        fences.replace(geojson::index(&fence_rows));

        let routes = SharedRoutes::default();
        let network = store.network().await?;
        routes.replace(RouteIndex::from_network(&network));

        let notifier = {
            let (store, settings) = (store.clone(), s.notifications.notifier());
            Supervisor::start(move |_| NotifierActor::new(store, settings))
        };
        let engine = {
            let sinks: AlertSinks =
                Arc::from(vec![hub.clone().recipient(), notifier.clone().recipient()]);
            let settings = RuleEngineSettings {
                tick: s.rules.tick,
                ..RuleEngineSettings::default()
            };
            let (store, fences) = (store.clone(), fences.clone());
            Supervisor::start_in_arbiter(&pool.dedicated(), move |_| {
                RuleEngineActor::new(settings, store, fences, sinks)
            })
        };
        let rules = urbanstream_actors::rules::load(&store).await?;
        engine.do_send(rules.clone());
        hub.do_send(AttachEngine(engine.clone().recipient()));
        downstream.push(engine.clone().recipient());
        let system_view = SystemView::default();
        let system = {
            let settings = SystemSettings {
                every: s.edge.metrics_every,
                store: store.clone(),
                persist: batcher.clone().recipient(),
                hub: Some(hub.clone().recipient()),
                view: system_view.clone(),
                corroboration: s.edge.corroboration(),
            };
            SystemStatsActor::new(settings).start()
        };
        let mut edge_downstream = downstream.clone();
        edge_downstream.push(system.recipient());
        let mut sessions = None;
        if let Some(tracking) = crate::tracking::start(
            &s.cameras,
            hub.clone(),
            store.clone(),
            batcher.clone().recipient(),
        )
        .await?
        {
            edge_downstream.push(tracking.router);
            sessions = Some(tracking.sessions);
        }
        let edge_nodes = EdgeSettings {
            mailbox: s.edge.mailbox,
            downstream: edge_downstream.into(),
            persist: batcher.clone().recipient(),
            offline_after: s.edge.offline_after,
            quorum: s.edge.quorum,
            person_data: urbanstream_actors::edge::PersonData {
                keep_images: s.cameras.record.crops,
                keep_embeddings: s.cameras.record.appearance,
                images_for_ms: (s.cameras.record.crops_days > 0)
                    .then(|| i64::from(s.cameras.record.crops_days) * DAY_MS),
            },
        };
        let (robot_tuning, tuning_rx) = tokio::sync::watch::channel(RobotTuning {
            telemetry_every: s.robots.telemetry_every,
            stale_after: s.robots.stale_after_polls,
            offline_after: s.robots.offline_after_polls,
        });
        let robots = RobotSettings {
            mailbox: s.robots.mailbox,
            downstream: downstream.clone().into(),
            persist: batcher.clone().recipient(),
            tuning: tuning_rx,
            retry: (Duration::from_millis(100), Duration::from_secs(5)),
        };
        let trackers = TrackerSettings {
            mailbox: s.vehicle.mailbox,
            downstream: downstream.into(),
            persist: batcher.clone().recipient(),
            offline_after: s.vehicle.offline_after,
            motion: s.vehicle.motion(),
            fences: fences.clone(),
            routes: routes.clone(),
        };
        let profile_of: ProfileOf = {
            let profiles = profiles.clone();
            Arc::new(move |model: &str| -> Arc<str> { Arc::from(profiles.for_model(model).name()) })
        };
        let registry = DeviceRegistryActor::load(RegistrySettings {
            register_unknown: s.teltonika.register_unknown,
            default_model: s.teltonika.default_model.clone(),
            devices: s.teltonika.devices.clone(),
            // One factory per kind of device: a new kind is one line here.
            factories: vec![
                Box::new(TrackerFactory {
                    settings: trackers,
                    profile_of,
                }),
                Box::new(EdgeNodeFactory {
                    settings: edge_nodes,
                    register_unknown: s.edge.register_unknown,
                }),
                Box::new(RobotFactory { settings: robots }),
            ],
            pool: pool.clone(),
            store: store.clone(),
            idle_stop_after: s.vehicle.idle_stop_after,
        })
        .await
        .context("loading the device registry")?;
        let directory = registry.directory();
        let registry = registry.start();
        let commands = {
            let (store, notices) = (store.clone(), hub.clone().recipient());
            let ttl = s.commands.queue_ttl;
            Supervisor::start(move |_| CommandDispatcherActor::new(store, notices, ttl))
        };
        registry.do_send(WatchConnections {
            connected: commands.clone().recipient(),
            disconnected: commands.clone().recipient(),
        });

        let robot_maps = s.modbus.all_maps();
        let modbus_settings = ModbusSettings {
            timeout: s.modbus.timeout,
            command_timeout: s.modbus.command_timeout,
            default_poll_hz: s.modbus.poll_hz,
        };
        let robot_map_names: Vec<String> = robot_maps.iter().map(|m| m.name.clone()).collect();
        let modbus = s.modbus.enabled.then(|| {
            ModbusManagerActor::new(
                store.clone(),
                BusContext {
                    registry: registry.clone().recipient(),
                    ended: registry.clone().recipient(),
                },
                modbus_settings,
                robot_maps,
            )
            .start()
        });

        let mut tasks = Vec::new();
        tasks.push(actix_rt::spawn(run_robot_retention(
            store.clone(),
            s.robots.telemetry_days,
            s.retention.check_interval,
        )));
        tasks.push(actix_rt::spawn(run_edge_retention(
            store.clone(),
            s.edge.clone(),
            s.retention.check_interval,
        )));
        if s.cameras.record.trajectory_days > 0 {
            tasks.push(actix_rt::spawn(run_trajectory_retention(
                store.clone(),
                s.cameras.record.trajectory_days,
                s.retention.check_interval,
            )));
        }
        if s.cameras.record.crops && s.cameras.record.crops_days > 0 {
            tasks.push(actix_rt::spawn(run_crop_retention(
                store.clone(),
                s.cameras.record.crops_days,
                s.retention.check_interval,
            )));
        }
        if s.retention.telemetry_days > 0 {
            tasks.push(actix_rt::spawn(run_retention(
                store.clone(),
                s.retention.telemetry_days,
                s.retention.check_interval,
            )));
        }
        let tcp = tokio::net::TcpListener::bind(s.teltonika.listen)
            .await
            .with_context(|| format!("binding teltonika.listen {}", s.teltonika.listen))?;
        let teltonika_addr = tcp.local_addr()?;
        let cx = ListenerContext {
            authorize: registry.clone().recipient(),
            ended: registry.clone().recipient(),
            settings: Arc::new(s.teltonika.session(profiles.clone())),
            pool: pool.clone(),
            keepalive: s.teltonika.tcp_keepalive,
        };
        let teltonika_tls_addr = match (s.teltonika.tls_listen, &s.http.tls) {
            (Some(addr), Some(files)) => {
                let acceptor = urbanstream_actors::tls::acceptor(files)?;
                let tls = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding teltonika.tls_listen {addr}"))?;
                let local = tls.local_addr()?;
                tasks.push(actix_rt::spawn(run_tls_listener(tls, cx.clone(), acceptor)));
                tracing::info!(teltonika_tls_addr = %local, "Teltonika TLS listening");
                Some(local)
            }
            _ => None,
        };
        tasks.push(actix_rt::spawn(run_tcp_listener(tcp, cx)));
        tracing::info!(%teltonika_addr, "Teltonika TCP listening");

        let udp_addr = match s.teltonika.udp_listen {
            Some(addr) => {
                let sock = tokio::net::UdpSocket::bind(addr)
                    .await
                    .with_context(|| format!("binding teltonika.udp_listen {addr}"))?;
                let local = sock.local_addr()?;
                tasks.push(actix_rt::spawn(run_udp_listener(
                    sock,
                    registry.clone().recipient(),
                    Arc::new(s.teltonika.session(profiles.clone())),
                )));
                tracing::info!(udp_addr = %local, "Teltonika UDP listening");
                Some(local)
            }
            None => None,
        };

        let upkeep = prometheus.clone();
        tasks.push(actix_rt::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        }));

        let auth = Arc::new(AuthService::new(store.clone(), s.auth.clone()));
        auth.bootstrap().await?;
        let sync = auth.clone();
        tasks.push(actix_rt::spawn(async move {
            // Sessions revoked on other nodes; buckets and caches pruned.
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                if let Err(e) = sync.sync_revocations().await {
                    tracing::warn!("auth upkeep: {e}");
                }
            }
        }));
        let (mqtt_addr, mqtt_tls_addr, mqtt) =
            start_mqtt(&s, &registry, &batcher, &auth, &store, &mut tasks).await?;

        // Geofences, rules (and vehicles' groups) and the route network changed on other
        // nodes: each is reloaded, and handed on only when it differs.
        let fence_set = fences.clone();
        tasks.push(crate::reload::spawn(
            "geofence",
            Duration::from_secs(5),
            store.clone(),
            fence_rows,
            |store| async move { store.geofences().await },
            move |rows| fence_set.replace(geojson::index(rows)),
        ));
        let rule_engine = engine.clone();
        tasks.push(crate::reload::spawn(
            "alert rule",
            s.rules.reload_every,
            store.clone(),
            rules,
            |store| async move { urbanstream_actors::rules::load(&store).await },
            move |rules| rule_engine.do_send(rules.clone()),
        ));
        let net_routes = routes.clone();
        tasks.push(crate::reload::spawn(
            "route network",
            Duration::from_secs(5),
            store.clone(),
            network,
            |store| async move { store.network().await },
            move |n| net_routes.replace(RouteIndex::from_network(n)),
        ));

        let hub_addr = hub.clone();
        let state = web::Data::new(HttpState {
            prometheus,
            ws: s.ws.clone(),
            store: store.clone(),
            hub,
            registry: registry.clone(),
            redis: redis_bridge,
            auth: auth.clone(),
            directory: directory.clone(),
            fences: fences.clone(),
            engine,
            commands: commands.clone(),
            routes,
            eta: Arc::default(),
            edge: EdgeState {
                offline_after: s.edge.offline_after,
                system: system_view.clone(),
                mqtt,
            },
            modbus: modbus.clone(),
            robot_maps: robot_map_names,
            cameras: sessions
                .as_ref()
                .map(|t| t.cameras.clone())
                .unwrap_or_default(),
            sessions,
            environment: s.cameras.environment.clone(),
            tuning: Arc::new(crate::http::Tuning {
                modbus: tokio::sync::watch::Sender::new(modbus_settings),
                robots: robot_tuning,
            }),
        });
        let cors_origins = s.http.cors_origins.clone();
        let dashboard = s.dashboard.clone();
        let tile_origin = dashboard.tile_origin();
        let workers = if s.http.workers == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            s.http.workers
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(http::access::guard))
                .wrap(http::cors(&cors_origins))
                .wrap(http::security_headers(tile_origin.as_deref()))
                .wrap(tracing_actix_web::TracingLogger::<http::RequestSpan>::new())
                .configure(http::routes)
                .configure(|cfg| {
                    if dashboard.enabled {
                        http::dashboard::routes(cfg, &dashboard);
                    }
                })
        })
        // Live pushes are small frames: without TCP_NODELAY, Nagle's algorithm holds each
        // behind the client's delayed ACK (tens of milliseconds).
        .on_connect(|conn, _ext| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(5);
        let server = match &s.http.tls {
            Some(files) => {
                let config = urbanstream_actors::tls::server_config(files, &[b"http/1.1"])?;
                server.bind_rustls_0_23(s.http.listen, config)
            }
            None => server.bind(s.http.listen),
        }
        .with_context(|| format!("binding http.listen {}", s.http.listen))?;
        let http_addr = server
            .addrs()
            .first()
            .copied()
            .context("HTTP server bound no address")?;
        let server = server.run();
        let http = server.handle();
        tasks.push(actix_rt::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!("HTTP server failed: {e}");
            }
        }));
        tracing::info!(%http_addr, "HTTP listening");

        Ok(Server {
            http_addr,
            teltonika_addr,
            udp_addr,
            mqtt_addr,
            mqtt_tls_addr,
            teltonika_tls_addr,
            system: system_view,
            registry,
            directory,
            store,
            batcher,
            hub: hub_addr,
            commands,
            auth,
            http,
            tasks,
            pool,
        })
    }
}

impl Server {
    /// Stops accepting, closes sessions, stops the HTTP server and the arbiters.
    pub async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.http.stop(true).await;
        // Sessions are told to close as the registry stops.
        self.registry.do_send(Shutdown);
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.pool.stop();
    }
}

/// Drops tracked people's trajectory points past their retention, every `every`.
async fn run_trajectory_retention(store: Store, days: u32, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let cutoff = chrono::Utc::now().timestamp_millis() - i64::from(days) * DAY_MS;
        match store.drop_trajectories_before(cutoff).await {
            Ok(n) if n > 0 => tracing::info!(dropped = n, "trajectory retention applied"),
            Ok(_) => {}
            Err(e) => tracing::warn!("trajectory retention failed: {e}"),
        }
    }
}

/// Removes stored pictures of people from detections older than `days`, every `every`. The
/// first pass starts at the oldest detection, later ones cover only what has aged since (a
/// detection that arrives older than `days` is stored without its picture); each statement
/// covers an hour of detections, so none holds many rows at once.
async fn run_crop_retention(store: Store, days: u32, every: Duration) {
    const WINDOW_MS: i64 = 3_600_000;
    let mut done_until: Option<i64> = None;
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let cutoff = chrono::Utc::now().timestamp_millis() - i64::from(days) * DAY_MS;
        let mut from = match done_until {
            Some(t) => t,
            None => match store.oldest_detection_ms().await {
                Ok(t) => t.unwrap_or(cutoff),
                Err(e) => {
                    tracing::warn!("picture retention failed: {e}");
                    continue;
                }
            },
        };
        let mut stripped = 0;
        while from < cutoff {
            let to = cutoff.min(from.saturating_add(WINDOW_MS));
            match store.strip_person_images(from, to).await {
                Ok(n) => stripped += n,
                Err(e) => {
                    tracing::warn!("picture retention failed: {e}");
                    break;
                }
            }
            from = to;
        }
        done_until = Some(from);
        if stripped > 0 {
            tracing::info!(detections = stripped, days, "pictures of people removed");
        }
    }
}

/// Drops telemetry older than `days`, every `every`.
async fn run_retention(store: Store, days: u32, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let cutoff = chrono::Utc::now().timestamp_millis() - i64::from(days) * DAY_MS;
        match store.drop_telemetry_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(dropped = n, days, "telemetry retention applied"),
            Err(e) => tracing::warn!("telemetry retention failed: {e}"),
        }
    }
}

/// Starts the MQTT side: a client of `mqtt.url`, or the embedded broker on `mqtt.listen`.
async fn start_mqtt(
    s: &Settings,
    registry: &Addr<DeviceRegistryActor>,
    batcher: &Addr<DbBatcherActor>,
    auth: &Arc<AuthService>,
    store: &Store,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> anyhow::Result<(Option<SocketAddr>, Option<SocketAddr>, MqttStatus)> {
    if !s.mqtt.enabled {
        return Ok((None, None, MqttStatus::Disabled));
    }
    if let Some(url) = &s.mqtt.url {
        let (host, port) = s.mqtt.broker(url)?;
        let connected = Connected::default();
        let (username, password) = s.mqtt.credentials(url);
        let settings = ClientSettings {
            host,
            port,
            client_id: s.mqtt.client_id.clone(),
            username,
            password,
            shared_group: s.mqtt.shared_group.clone(),
            keep_alive: s.mqtt.keep_alive,
            inflight: s.mqtt.inflight,
            limits: s.mqtt.limits(),
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            tls: s.mqtt.tls(url)?,
        };
        tasks.push(actix_rt::spawn(client::run(
            settings,
            registry.clone().recipient(),
            batcher.clone().recipient(),
            connected.clone(),
        )));
        let shown = urbanstream_schema::redact::redact(url);
        tracing::info!(broker = %shown, "edge nodes: subscribing at the MQTT broker");
        return Ok((
            None,
            None,
            MqttStatus::External {
                broker: shown,
                connected,
            },
        ));
    }
    let listen = s.mqtt.listen;
    let listener = broker::bind(listen).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "mqtt.listen {listen} is already in use, perhaps by another MQTT broker (such as \
                 this machine's Mosquitto). Either use that broker: set mqtt.url, e.g. \
                 URBANSTREAM__MQTT__URL=mqtt://127.0.0.1:{port}; or run the embedded broker on \
                 another address: set mqtt.listen, e.g. URBANSTREAM__MQTT__LISTEN=0.0.0.0:1884",
                port = listen.port()
            )
        } else {
            anyhow::anyhow!("binding mqtt.listen {listen}: {e}")
        }
    })?;
    let addr = listener.local_addr()?;
    let authenticate = if s.edge.authenticate {
        let quarantine = s.edge.unknown_nodes == crate::config::UnknownNodes::Quarantine;
        node_credentials(auth.clone(), store.clone(), quarantine)
    } else {
        tracing::warn!(
            %addr,
            "embedded MQTT broker is open (edge.authenticate = false, the development overlay): \
             any client may connect, publish and subscribe to anything; never so in production"
        );
        broker::anyone()
    };
    let settings = broker::BrokerSettings {
        limits: s.mqtt.limits(),
        inflight: s.mqtt.inflight,
        ..broker::BrokerSettings::default()
    };
    let tls = match (s.mqtt.tls_listen, &s.http.tls) {
        (Some(tls_addr), Some(files)) => {
            let acceptor = urbanstream_actors::tls::acceptor(files)?;
            let listener = broker::bind(tls_addr)
                .await
                .with_context(|| format!("binding mqtt.tls_listen {tls_addr}"))?;
            Some((listener, acceptor))
        }
        _ => None,
    };
    let tls_addr = match &tls {
        Some((l, _)) => Some(l.local_addr()?),
        None => None,
    };
    tasks.push(actix_rt::spawn(broker::serve(
        listener,
        tls,
        settings,
        authenticate,
        registry.clone().recipient(),
        batcher.clone().recipient(),
    )));
    tracing::info!(mqtt_addr = %addr, mqtt_tls_addr = ?tls_addr, authenticate = s.edge.authenticate, "embedded MQTT broker listening");
    Ok((Some(addr), tls_addr, MqttStatus::Embedded { listen: addr }))
}

/// Embedded broker, production: username = a registered node's id, password = the API key
/// it registered with (or, for a node created by an operator, any ADMIN or OPERATOR key).
/// With `quarantine`, a node unknown so far that presents a valid key is registered as
/// quarantined and let in; its messages are kept as dead letters until an operator admits it.
fn node_credentials(
    auth: Arc<AuthService>,
    store: Store,
    quarantine: bool,
) -> broker::Authenticate {
    use crate::auth::{PrincipalKind, Role};
    use broker::{Admitted, Credentials, Refusal};
    use futures_util::FutureExt;
    Arc::new(move |c: Credentials| {
        let (auth, store) = (auth.clone(), store.clone());
        async move {
            let (Some(user), Some(password)) = (c.username, c.password) else {
                return Err(Refusal::BadCredentials);
            };
            let node: urbanstream_schema::NodeId =
                user.parse().map_err(|_bad| Refusal::BadCredentials)?;
            let principal = auth
                .verify_api_key(&password)
                .await
                .map_err(|_refused| Refusal::BadCredentials)?;
            let PrincipalKind::ApiKey { id } = principal.kind else {
                return Err(Refusal::BadCredentials);
            };
            let row = store
                .edge_node(node.as_str())
                .await
                .map_err(|_db| Refusal::Unavailable)?;
            let row = match row {
                Some(row) => row,
                None if quarantine => {
                    let now = chrono::Utc::now().timestamp_millis();
                    let mut row = urbanstream_schema::models::EdgeNodeRow::new(node.as_str(), node.as_str(), now);
                    row.quarantined = true;
                    row.api_key_id = Some(id);
                    let row = store.ensure_edge_node(row).await.map_err(|_db| Refusal::Unavailable)?;
                    tracing::warn!(%node, "unknown edge node quarantined until an operator admits it");
                    row
                }
                None => return Err(Refusal::NotAuthorized),
            };
            if row.quarantined {
                return if row.api_key_id == Some(id) {
                    Ok(Admitted::Quarantined(node))
                } else {
                    Err(Refusal::NotAuthorized)
                };
            }
            match row.api_key_id {
                Some(key) if key == id => Ok(Admitted::Node(node)),
                None if matches!(principal.role, Role::Admin | Role::Operator) => {
                    Ok(Admitted::Node(node))
                }
                _ => Err(Refusal::NotAuthorized),
            }
        }
        .boxed()
    })
}

/// Drops detections, system metrics and system logs past their retention, every `every`.
/// Drops robot telemetry and safety events past `days`.
async fn run_robot_retention(store: Store, days: u32, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let cutoff = chrono::Utc::now().timestamp_millis() - i64::from(days) * 86_400_000;
        match store.drop_robot_history_before(cutoff).await {
            Ok(n) if n > 0 => tracing::info!(dropped = n, "robot telemetry retention"),
            Ok(_) => {}
            Err(e) => tracing::warn!("robot telemetry retention: {e}"),
        }
    }
}

async fn run_edge_retention(store: Store, edge: crate::config::EdgeSection, every: Duration) {
    let mut tick = tokio::time::interval(every);
    let cutoff = |days: u32| {
        if days == 0 {
            i64::MIN
        } else {
            chrono::Utc::now().timestamp_millis() - i64::from(days) * DAY_MS
        }
    };
    loop {
        tick.tick().await;
        if edge.detections_days > 0 {
            match store
                .drop_detections_before(cutoff(edge.detections_days))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(dropped = n, "detection retention applied"),
                Err(e) => tracing::warn!("detection retention failed: {e}"),
            }
        }
        if let Err(e) = store
            .prune_system(
                cutoff(edge.system_metrics_days),
                cutoff(edge.system_logs_days),
            )
            .await
        {
            tracing::warn!("system metrics and log retention failed: {e}");
        }
    }
}
