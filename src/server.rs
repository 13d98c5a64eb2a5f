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
use urbanstream_actors::hub::{AttachEngine, AttachRedis, HubActor, HubSettings};
use urbanstream_actors::notify::NotifierActor;
use urbanstream_actors::redis_bridge::{RedisBridgeActor, RedisSettings};
use urbanstream_actors::registry::{DeviceRegistryActor, RegistrySettings, Shutdown, WatchLogins};
use urbanstream_actors::rules::{AlertSinks, RuleEngineActor, RuleEngineSettings};
use urbanstream_actors::teltonika::{run_tcp_listener, run_udp_listener, ListenerContext};
use urbanstream_actors::transit::{RouteIndex, SharedRoutes};
use urbanstream_actors::vehicle::{TelemetryAccepted, VehicleSettings};
use urbanstream_schema::store::{Store, DAY_MS};

use crate::auth::AuthService;
use crate::config::Settings;
use crate::http::{self, HttpState};

/// Builds a server; `downstream` recipients receive every accepted frame.
pub struct ServerBuilder {
    settings: Settings,
    downstream: Vec<Recipient<TelemetryAccepted>>,
}

/// A running server. Dropping it does not stop it; call [`Server::stop`].
pub struct Server {
    pub http_addr: SocketAddr,
    pub teltonika_addr: SocketAddr,
    pub udp_addr: Option<SocketAddr>,
    pub registry: Addr<DeviceRegistryActor>,
    pub store: Store,
    pub batcher: Addr<DbBatcherActor>,
    pub hub: Addr<HubActor>,
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

    pub fn downstream(mut self, r: Recipient<TelemetryAccepted>) -> Self {
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
            .with_context(|| format!("opening database.url {}", s.database.url))?;
        tracing::info!(
            backend = store.backend(),
            "database ready, migrations applied"
        );
        let pool = ArbiterPool::per_core();

        let batcher_store = store.clone();
        let batcher_settings = s.batcher_settings();
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

        let fences = urbanstream_actors::rules::SharedFences::default();
        fences.replace(urbanstream_actors::rules::geojson::index(
            &store.geofences().await?,
        ));

        let routes = SharedRoutes::default();
        routes.replace(RouteIndex::from_network(&store.network().await?));

        let notifier = {
            let (store, settings) = (store.clone(), s.notify_settings());
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
        let (mut loaded_rules, rules) = http::alert_rules::load(&store).await?;
        engine.do_send(rules);
        hub.do_send(AttachEngine(engine.clone().recipient()));
        downstream.push(engine.clone().recipient());
        let registry = DeviceRegistryActor::load(RegistrySettings {
            register_unknown: s.teltonika.register_unknown,
            default_model: s.teltonika.default_model.clone(),
            devices: s.teltonika.devices.clone(),
            profiles,
            vehicle: VehicleSettings {
                mailbox: s.vehicle.mailbox,
                downstream: downstream.into(),
                persist: batcher.clone().recipient(),
                offline_after: s.vehicle.offline_after,
                motion: s.motion_settings(),
                fences: fences.clone(),
                routes: routes.clone(),
            },
            pool: pool.clone(),
            store: store.clone(),
            idle_stop_after: s.vehicle.idle_stop_after,
        })
        .await
        .context("loading the device registry")?;
        let vehicles = registry.directory();
        let registry = registry.start();
        let commands = {
            let (store, send, notices) = (
                store.clone(),
                registry.clone().recipient(),
                hub.clone().recipient(),
            );
            let ttl = s.commands.queue_ttl;
            Supervisor::start(move |_| CommandDispatcherActor::new(store, send, notices, ttl))
        };
        registry.do_send(WatchLogins(commands.clone().recipient()));

        let mut tasks = Vec::new();
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
            settings: Arc::new(s.session_settings()),
            pool: pool.clone(),
            keepalive: s.teltonika.tcp_keepalive,
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
                    s.teltonika.ack_timeout,
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
        let (fence_store, fence_set) = (store.clone(), fences.clone());
        tasks.push(actix_rt::spawn(async move {
            // Geofences changed on other nodes: the index is rebuilt only when they differ.
            let mut loaded = None;
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                match fence_store.geofences().await {
                    Ok(rows) if loaded.as_ref() != Some(&rows) => {
                        fence_set.replace(urbanstream_actors::rules::geojson::index(&rows));
                        loaded = Some(rows);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("geofence reload: {e}"),
                }
            }
        }));

        let (rule_store, rule_engine, every) =
            (store.clone(), engine.clone(), s.rules.reload_every);
        tasks.push(actix_rt::spawn(async move {
            // Rules (and vehicles' groups) changed on other nodes.
            let mut groups = None;
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match http::alert_rules::load(&rule_store).await {
                    Ok((rows, replace)) => {
                        if rows != loaded_rules || groups.as_ref() != Some(&replace.groups) {
                            loaded_rules = rows;
                            groups = Some(replace.groups.clone());
                            rule_engine.do_send(replace);
                        }
                    }
                    Err(e) => tracing::warn!("alert rule reload: {e}"),
                }
            }
        }));

        let (net_store, net_routes) = (store.clone(), routes.clone());
        tasks.push(actix_rt::spawn(async move {
            // Routes, stops and assignments changed on other nodes.
            let mut loaded = None;
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                match net_store.network().await {
                    Ok(n) if loaded.as_ref() != Some(&n) => {
                        net_routes.replace(RouteIndex::from_network(&n));
                        loaded = Some(n);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("route network reload: {e}"),
                }
            }
        }));

        let hub_addr = hub.clone();
        let state = web::Data::new(HttpState {
            prometheus,
            store: store.clone(),
            hub,
            registry: registry.clone(),
            redis: redis_bridge,
            auth: auth.clone(),
            vehicles,
            fences: fences.clone(),
            engine,
            commands,
            routes,
            eta: Arc::default(),
        });
        let cors_origins = s.http.cors_origins.clone();
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
                .wrap(http::security_headers())
                .wrap(tracing_actix_web::TracingLogger::<http::RequestSpan>::new())
                .configure(http::routes)
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
        .shutdown_timeout(5)
        .bind(s.http.listen)
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
            registry,
            store,
            batcher,
            hub: hub_addr,
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
