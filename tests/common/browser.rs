//! Headless Chromium driven over the DevTools protocol: one browser per test, one page,
//! JavaScript evaluated in it, screenshots. `CHROMIUM` names the binary (default: the first
//! of chromium, chromium-browser, google-chrome on the PATH).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::BufRead;
use std::process::{Child, Command};

use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_tungstenite::tungstenite::Message;

type Pending = std::sync::Arc<Mutex<std::collections::HashMap<u64, oneshot::Sender<Value>>>>;

pub struct Browser {
    child: Child,
    out: mpsc::UnboundedSender<String>,
    pending: Pending,
    next: std::sync::atomic::AtomicU64,
    session: String,
    _profile: TempDir,
    /// Messages logged by the page (console errors, exceptions), for failure reports.
    pub console: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn binary() -> String {
    if let Ok(b) = std::env::var("CHROMIUM") {
        return b;
    }
    for b in ["chromium", "chromium-browser", "google-chrome"] {
        if std::process::Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return b.to_owned();
        }
    }
    panic!("no Chromium found: install Debian's chromium (scripts/test.sh does) or set CHROMIUM");
}

impl Browser {
    /// Starts Chromium headless with a fresh profile and opens one blank page.
    pub async fn start() -> Self {
        let profile = std::env::temp_dir().join(format!(
            "urbanstream-chromium-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let mut child = Command::new(binary())
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--mute-audio",
                "--remote-debugging-port=0",
                "--window-size=1400,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting Chromium");
        // Its stderr names the DevTools endpoint; the rest of it is read and dropped.
        let stderr = child.stderr.take().unwrap();
        let (found, endpoint) = oneshot::channel();
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(i) = line.find("ws://") {
                    if let Some(tx) = found.take() {
                        let _ = tx.send(line[i..].trim().to_owned());
                    }
                }
            }
        });
        let url = tokio::time::timeout(Duration::from_secs(30), endpoint)
            .await
            .expect("Chromium did not start within 30 s")
            .expect("Chromium exited before it listened");

        let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let (mut sink, mut stream) = ws.split();
        let (out, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if sink.send(Message::Text(m.into())).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Default::default();
        let console = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        {
            let (pending, console) = (pending.clone(), console.clone());
            tokio::spawn(async move {
                while let Some(Ok(m)) = stream.next().await {
                    let Message::Text(t) = m else { continue };
                    let v: Value = serde_json::from_str(&t).unwrap_or_default();
                    if let Some(id) = v["id"].as_u64() {
                        if let Some(tx) = pending.lock().await.remove(&id) {
                            let _ = tx.send(v);
                        }
                    } else if v["method"] == "Runtime.exceptionThrown" {
                        console
                            .lock()
                            .unwrap()
                            .push(format!("exception: {}", v["params"]["exceptionDetails"]));
                    } else if v["method"] == "Runtime.consoleAPICalled"
                        && v["params"]["type"] == "error"
                    {
                        console
                            .lock()
                            .unwrap()
                            .push(format!("console.error: {}", v["params"]["args"]));
                    }
                }
            });
        }
        let mut b = Self {
            child,
            out,
            pending,
            next: 1.into(),
            session: String::new(),
            _profile: TempDir(profile),
            console,
        };
        let target = b
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = b
            .call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        b.session = attached["sessionId"].as_str().unwrap().to_owned();
        b.call("Page.enable", json!({})).await;
        b.call("Runtime.enable", json!({})).await;
        b
    }

    /// One DevTools command; its `result` (panics on a protocol error).
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().await.insert(id, tx);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = self.session.clone().into();
        }
        self.out.send(msg.to_string()).unwrap();
        let v = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .unwrap_or_else(|_| panic!("{method}: no answer within 30 s"))
            .unwrap();
        assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
        v["result"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(15),
        )
        .await;
    }

    /// Evaluates `expr` in the page (awaiting a promise) and returns its value.
    pub async fn eval(&self, expr: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expr}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Waits until `expr` is truthy in the page; fails with the page's console on timeout.
    pub async fn wait_for(&self, expr: &str, within: Duration) -> Duration {
        let started = tokio::time::Instant::now();
        loop {
            let r = self
                .call(
                    "Runtime.evaluate",
                    json!({"expression": format!("!!({expr})"), "returnByValue": true}),
                )
                .await;
            if r["result"]["value"] == true {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "waited {within:?} for `{expr}`; page console: {:?}",
                self.console.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Signs in through the page's own form.
    pub async fn sign_in(&self, user: &str, password: &str) {
        self.wait_for(
            "!document.getElementById('login').hidden",
            Duration::from_secs(10),
        )
        .await;
        self.eval(&format!(
            "(() => {{ const f = document.getElementById('login'); f.username.value = {}; f.password.value = {}; f.requestSubmit(); }})()",
            json!(user),
            json!(password)
        ))
        .await;
        self.wait_for(
            "!document.getElementById('nav').hidden",
            Duration::from_secs(10),
        )
        .await;
    }

    /// Saves a PNG of the page to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let r = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
